package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// RenameContainer gives a container a new name, checked as create
// checks one, and emits Docker's rename event (attribute oldName: the
// old name with its "/"). The record and the names bucket change in one
// transaction, so a name is never held by two containers nor lost.
func (e *Engine) RenameContainer(ref, newName string) (Container, error) {
	if ref == "" || newName == "" {
		return Container{}, errors.New("neither old nor new names may be empty")
	}
	name, err := CheckContainerName(newName)
	if err != nil {
		return Container{}, err
	}
	c, err := e.LookupContainer(ref)
	if err != nil {
		return c, err
	}
	lock, err := e.lockContainer(c.ID)
	if err != nil {
		return c, err
	}
	defer lock.Release()
	old := c.Name
	if old == name {
		return c, fmt.Errorf("renaming a container with the same name as its current name")
	}
	err = e.meta.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		v := b.Get([]byte(c.ID))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
		}
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("container record %s: %w", shortID(c.ID), err)
		}
		old = c.Name
		names, err := tx.CreateBucketIfNotExists(bucketCNames)
		if err != nil {
			return err
		}
		if err := nameConflict(tx, name); err != nil {
			return fmt.Errorf("error when allocating new name: %w", err)
		}
		if id := names.Get([]byte(old)); string(id) == c.ID {
			if err := names.Delete([]byte(old)); err != nil {
				return err
			}
		}
		if err := names.Put([]byte(name), []byte(c.ID)); err != nil {
			return err
		}
		c.Name = name
		nv, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return b.Put([]byte(c.ID), nv)
	})
	if err != nil {
		return c, err
	}
	e.renamedHealth(&c)
	e.renamedDNS(&c)
	e.emitContainer(&c, "rename", map[string]string{"oldName": "/" + old})
	return c, nil
}
