package engine

// PruneImagesSpace is PruneImages with the space it freed: the layers
// that no image left holds.
func (e *Engine) PruneImagesSpace(all bool) (PruneReport, int64, error) {
	sizes := func() (map[string]int64, error) {
		imgs, err := e.ListImages(nil)
		if err != nil {
			return nil, err
		}
		m := map[string]int64{}
		for _, img := range imgs {
			for _, l := range img.Layers {
				m[l.DiffID.String()] = l.Size
			}
		}
		return m, nil
	}
	before, err := sizes()
	if err != nil {
		return PruneReport{}, 0, err
	}
	rep, err := e.PruneImages(all)
	after, aerr := sizes()
	var reclaimed int64
	if aerr == nil {
		for k, s := range before {
			if _, ok := after[k]; !ok {
				reclaimed += s
			}
		}
	}
	return rep, reclaimed, err
}
