package storage

import "syscall"

// madviseDontNeed drops the pages of [addr, addr+n) from this process's
// page tables. For bbolt's read-only, shared map of the database file this
// loses nothing: the pages stay in the kernel's page cache, and a later read
// faults them back in from there (or from the file).
func madviseDontNeed(addr, n uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, n, syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
