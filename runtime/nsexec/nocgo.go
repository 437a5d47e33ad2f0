//go:build !cgo

package nsexec

// HasConstructor is false in a binary built without cgo: the plan encoder works, but the child
// must be another binary that has the constructor (Config.Exe, e.g. berth-runtime).
const HasConstructor = false
