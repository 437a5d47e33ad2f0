package engine

// SetFillFault makes FillVolume fail at the entry fn refuses (nil: none).
func SetFillFault(fn func(rel string) error) { fillFault = fn }
