package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// cache maps step keys to the images that the steps made. A key is the
// step's parent key, its instruction with args and env resolved, and for
// COPY and ADD the digest of the copied files' content (times are not
// part of it): the same inputs give the same image, and nothing runs.
// It is one JSON file under the engine root; entries whose image is gone
// are misses.
type cache struct {
	mu    sync.Mutex
	file  string
	idx   cacheIndex
	dirty bool
}

// cacheIndex is the file's content: step keys to image ids, and the ids
// that were a build's result (the others are intermediate: `images`
// hides them, `system df` counts them as build cache).
type cacheIndex struct {
	Entries map[string]string `json:"entries"`
	Results map[string]bool   `json:"results"`
	// Steps are every image a step made, also those whose key a later
	// --no-cache build took over.
	Steps map[string]bool `json:"steps"`
}

func readIndex(file string) (cacheIndex, error) {
	idx := cacheIndex{Entries: map[string]string{}, Results: map[string]bool{}, Steps: map[string]bool{}}
	b, err := os.ReadFile(file)
	if err != nil {
		return idx, err
	}
	if json.Unmarshal(b, &idx) != nil {
		// A torn file loses the cache, not the build.
		idx = cacheIndex{}
	}
	if idx.Entries == nil {
		idx.Entries = map[string]string{}
	}
	if idx.Results == nil {
		idx.Results = map[string]bool{}
	}
	if idx.Steps == nil {
		idx.Steps = map[string]bool{}
	}
	return idx, nil
}

// IntermediateImages are the ids of the images that the cache under dir
// keeps for steps, less the builds' results.
func IntermediateImages(dir string) map[string]bool {
	idx, _ := readIndex(filepath.Join(dir, "cache.json"))
	out := map[string]bool{}
	for id := range idx.Steps {
		if !idx.Results[id] {
			out[id] = true
		}
	}
	return out
}

func openCache(dir string) (*cache, error) {
	c := &cache{idx: cacheIndex{Entries: map[string]string{}, Results: map[string]bool{}, Steps: map[string]bool{}}}
	if dir == "" {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	c.file = filepath.Join(dir, "cache.json")
	idx, err := readIndex(c.file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	c.idx = idx
	return c, nil
}

func (c *cache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.idx.Entries[key]
	return id, ok
}

func (c *cache) put(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idx.Entries[key], c.dirty = id, true
	c.idx.Steps[id] = true
}

// result marks id as a build's result.
func (c *cache) result(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idx.Results[id], c.dirty = true, true
}

// save writes the index (another build's entries since ours was read
// are merged in; ours win a key).
func (c *cache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == "" || !c.dirty {
		return nil
	}
	if on, err := readIndex(c.file); err == nil {
		for k, v := range on.Entries {
			if _, ok := c.idx.Entries[k]; !ok {
				c.idx.Entries[k] = v
			}
		}
		for id := range on.Results {
			c.idx.Results[id] = true
		}
		for id := range on.Steps {
			c.idx.Steps[id] = true
		}
	}
	b, err := json.Marshal(c.idx)
	if err != nil {
		return err
	}
	tmp := c.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return os.Rename(tmp, c.file)
}

// stepKey chains a step onto its parent's key.
func stepKey(parent string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(parent))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
