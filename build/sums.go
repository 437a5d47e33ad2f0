package build

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// fileSum is a context file's content digest with the metadata it was
// taken at: while inode, size, mtime and ctime stay, the content is
// taken to be the same (BuildKit's content cache makes the same bet), so
// a rebuild reads no file that did not change. touch changes ctime: the
// file is read again, and its digest, hence the cache key, stays.
type fileSum struct {
	Ino   uint64 `json:"i"`
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"`
	Ctime int64  `json:"c"`
	Sum   []byte `json:"h"`
}

// sumCache are the digests of one context directory's files, kept in
// the build cache between builds of it.
type sumCache struct {
	mu    sync.Mutex
	file  string
	old   map[string]fileSum
	used  map[string]fileSum
	dirty bool
}

// UseSumCache keeps the context's file digests in file between builds
// (for a context that is a directory the user keeps; a tar's unpacked
// copy is new each time).
func (c *Context) UseSumCache(file string) {
	sc := &sumCache{file: file, old: map[string]fileSum{}, used: map[string]fileSum{}}
	if b, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(b, &sc.old)
	}
	c.sums = sc
}

func statKey(fi fs.FileInfo) (fileSum, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileSum{}, false
	}
	return fileSum{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true
}

// fileDigest is the sha256 of a regular file of the context.
func (c *Context) fileDigest(e entry) ([]byte, error) {
	var key fileSum
	var ok bool
	if c.sums != nil {
		// The entry's info may be a followed link's: stat the file read.
		if fi, err := c.root.Stat(e.ctx); err == nil {
			key, ok = statKey(fi)
		}
		if ok {
			c.sums.mu.Lock()
			old, hit := c.sums.old[e.ctx]
			c.sums.mu.Unlock()
			if hit && old.Ino == key.Ino && old.Size == key.Size && old.Mtime == key.Mtime && old.Ctime == key.Ctime {
				c.sums.keep(e.ctx, old)
				return old.Sum, nil
			}
		}
	}
	f, err := c.root.Open(e.ctx)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	sum := h.Sum(nil)
	if ok {
		key.Sum = sum
		c.sums.keep(e.ctx, key)
	}
	return sum, nil
}

func (s *sumCache) keep(p string, fsum fileSum) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.old[p]; !ok || old.Ctime != fsum.Ctime || old.Mtime != fsum.Mtime || old.Ino != fsum.Ino || old.Size != fsum.Size {
		s.dirty = true
	}
	s.used[p] = fsum
}

// SaveSums writes the digests this build used (only those: files gone
// or no longer copied drop out).
func (c *Context) SaveSums() error {
	s := c.sums
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty && len(s.used) == len(s.old) {
		return nil
	}
	b, err := json.Marshal(s.used)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.file), 0o700); err != nil {
		return err
	}
	tmp := s.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.file)
}
