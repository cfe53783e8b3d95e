package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Size is the size of the database in bytes, as of the last commit.
func (db *DB) Size() (int64, error) {
	var n int64
	err := db.viewTx(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n, err
}

// Ping checks that the database is open and readable.
func (db *DB) Ping() error {
	return db.viewTx(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return fmt.Errorf("%w: no meta bucket", ErrNotDatabase)
		}
		return nil
	})
}

// WriteTo writes a consistent copy of the whole database to w, as of one
// read transaction: writers go on meanwhile, and the copy is a valid
// database file that Open accepts.
func (db *DB) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := db.scanTx(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("copy database %s: %w", db.path, err)
	}
	return n, nil
}

// WriteFileAtomic fills the file at path with what fill writes, such that
// path holds either its old content or the whole new one, never a part:
// fill writes to a temporary file beside path, which is synced and then
// renamed over path.
func WriteFileAtomic(path string, perm os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// Compact rewrites the database at path without its free pages, which
// bbolt never returns to the file system by itself, and returns the sizes
// before and after. It needs the database to itself: with another process
// holding it, it fails with ErrLocked and changes nothing. The old file is
// replaced only once the new one is complete, synced and passes Check.
func Compact(path string) (before, after int64, err error) {
	src, err := Open(path, Options{})
	if err != nil {
		return 0, 0, err
	}
	// Keep src open, and so the file locked, until the new file is in
	// place: no daemon can start on the old file in between.
	defer src.Close()
	info, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	before = info.Size()

	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".compact-*")
	if err != nil {
		return before, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	tmp := f.Name()
	f.Close()
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmp)
		}
	}()
	if err := os.Chmod(tmp, info.Mode().Perm()); err != nil {
		return before, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	dst, err := bolt.Open(tmp, info.Mode().Perm(), &bolt.Options{PageSize: src.bolt.Info().PageSize})
	if err != nil {
		return before, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	// 64 MiB per transaction bounds the memory the copy holds dirty.
	if err := bolt.Compact(dst, src.bolt, 64<<20); err != nil {
		dst.Close()
		return before, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		return before, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	check, err := Open(tmp, Options{})
	if err != nil {
		return before, 0, fmt.Errorf("compact %s: the copy does not open: %w", path, err)
	}
	err = check.Check()
	if cerr := check.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return before, 0, fmt.Errorf("compact %s: the copy fails its check, the original is unchanged: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return before, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	keep = true
	if err := syncDir(dir); err != nil {
		return before, 0, fmt.Errorf("compact %s: %w", path, err)
	}
	if info, err = os.Stat(path); err == nil {
		after = info.Size()
	}
	return before, after, nil
}

// boltMagic marks a bbolt file: it is the first field of the meta page
// that starts the file, after the 16-byte page header, in the byte order
// of the machine that wrote it.
const boltMagic = 0xED0CDAED

// checkMagic returns ErrNotDatabase for a non-empty file that does not
// start like a bbolt file, so that a text file given as the database is
// named as such rather than with bbolt's internal complaint, and ErrDamaged
// for a file shorter than the pages its newest valid meta page counts (a
// copy cut short by a full disk or an interrupted cp): bbolt would read the
// missing pages through its map while opening, which is a memory fault, not
// an error. A missing or empty file passes: bbolt creates the database in
// it.
func checkMagic(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	var head [metaSize]byte
	n, err := io.ReadFull(f, head[:])
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		return nil
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return err
	case n < 20 || (binary.LittleEndian.Uint32(head[16:]) != boltMagic && binary.BigEndian.Uint32(head[16:]) != boltMagic):
		return fmt.Errorf("%w: the file does not start like a bbolt database", ErrNotDatabase)
	}
	m, ok := newestMeta(f, head[:n])
	if !ok {
		return nil // no meta page is valid: bbolt names the problem
	}
	if need := int64(m.pgid) * int64(m.pageSize); info.Size() < need {
		return fmt.Errorf("%w: the file has %d bytes but its pages need %d (cut short?); restore a backup", ErrDamaged, info.Size(), need)
	}
	if m.freelist != noFreelist && m.freelist >= m.pgid || m.root >= m.pgid {
		return fmt.Errorf("%w: the meta page points past the last page; restore a backup", ErrDamaged)
	}
	return nil
}

// bbolt's meta page: a 16-byte page header, then magic, version, page
// size, flags (4 bytes each), the root bucket (page and sequence), the
// freelist page, the high-water mark, the transaction ID and an FNV-64a
// checksum of the 56 bytes before it, all in the writer's byte order.
const (
	metaSize   = 16 + 64
	noFreelist = 0xffffffffffffffff
)

type boltMeta struct {
	pageSize             uint32
	root, freelist, pgid uint64
	txid                 uint64
}

// newestMeta returns the valid meta page with the highest transaction ID
// of the two at the start of the file, as bbolt chooses; first is what was
// read of the first page.
func newestMeta(f *os.File, first []byte) (boltMeta, bool) {
	best, ok := parseMeta(first)
	var second [metaSize]byte
	sizes := []int64{int64(os.Getpagesize()), 4096, 8192, 16384, 32768, 65536}
	if ok {
		sizes = append([]int64{int64(best.pageSize)}, sizes...)
	}
	for _, size := range sizes {
		if n, _ := f.ReadAt(second[:], size); n == metaSize {
			if m, ok2 := parseMeta(second[:]); ok2 && int64(m.pageSize) == size {
				if !ok || m.txid > best.txid {
					best, ok = m, true
				}
				break
			}
		}
	}
	return best, ok
}

// parseMeta reads a meta page, in either byte order, and reports whether
// it is valid: the magic, version 2, a page size that is a power of two
// and a matching checksum.
func parseMeta(b []byte) (boltMeta, bool) {
	if len(b) < metaSize {
		return boltMeta{}, false
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		m := b[16:metaSize]
		if order.Uint32(m) != boltMagic || order.Uint32(m[4:]) != 2 {
			continue
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != order.Uint64(m[56:]) {
			continue
		}
		size := order.Uint32(m[8:])
		if size < 512 || size&(size-1) != 0 {
			continue
		}
		return boltMeta{pageSize: size, root: order.Uint64(m[16:]), freelist: order.Uint64(m[32:]),
			pgid: order.Uint64(m[40:]), txid: order.Uint64(m[48:])}, true
	}
	return boltMeta{}, false
}
