//go:build !linux

package storage

// madviseDontNeed does nothing where the release of mapped pages is not
// implemented: the pages stay resident until the map is replaced.
func madviseDontNeed(addr, n uintptr) error { return nil }
