package engine

// ContainerSize is the size of what the container wrote (its snapshot's
// own files) and of its whole root (that plus the image), as ps --size
// and inspect --size show them.
func (e *Engine) ContainerSize(c Container) (rw, rootfs int64, err error) {
	snaps, err := e.Snapshots()
	if err != nil {
		return 0, 0, err
	}
	u, err := snaps.Usage(c.Snapshot)
	if err != nil {
		return 0, 0, err
	}
	rw = u.Size
	if img, err := e.images.Resolve(c.Image); err == nil {
		rootfs = img.Size()
	}
	return rw, rw + rootfs, nil
}
