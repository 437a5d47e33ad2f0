package engine

import "errors"

// Temporary: the volumes helper's API until its branch is merged.

type Volume struct{ Name, Mountpoint string }
type VolumeCreateOptions struct {
	Name      string
	Anonymous bool
}

func (e *Engine) CreateVolume(o VolumeCreateOptions) (Volume, bool, error) { panic("stub") }
func (e *Engine) FillVolume(v Volume, rootfs, dst string) error            { return nil }
func (e *Engine) RemoveVolume(name string, force bool) error               { return nil }

var ErrNoSuchVolume = errors.New("no such volume")

func (e *Engine) GetVolume(name string) (Volume, error) { return Volume{}, ErrNoSuchVolume }
