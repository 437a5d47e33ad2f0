//go:build cgo

package nsexec

/*
#cgo CFLAGS: -Wall -Wno-unused-result -Wno-format-truncation -O2
*/
import "C"

// HasConstructor reports whether this binary carries the C constructor that runs plans, so that
// it can serve as its own child (Config.Exe empty).
const HasConstructor = true
