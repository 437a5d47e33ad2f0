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
	mu      sync.Mutex
	file    string
	entries map[string]string
	dirty   bool
}

func openCache(dir string) (*cache, error) {
	c := &cache{entries: map[string]string{}}
	if dir == "" {
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	c.file = filepath.Join(dir, "cache.json")
	b, err := os.ReadFile(c.file)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("build cache: %w", err)
	}
	if json.Unmarshal(b, &c.entries) != nil {
		// A torn file loses the cache, not the build.
		c.entries = map[string]string{}
	}
	return c, nil
}

func (c *cache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.entries[key]
	return id, ok
}

func (c *cache) put(key, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key], c.dirty = id, true
}

// save writes the index (another build's entries since ours was read
// are merged in; the last writer wins a key).
func (c *cache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == "" || !c.dirty {
		return nil
	}
	if b, err := os.ReadFile(c.file); err == nil {
		var on map[string]string
		if json.Unmarshal(b, &on) == nil {
			for k, v := range on {
				if _, ok := c.entries[k]; !ok {
					c.entries[k] = v
				}
			}
		}
	}
	b, err := json.Marshal(c.entries)
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
