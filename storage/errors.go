package storage

import "errors"

// Errors that callers branch on.
var (
	// ErrLocked means another process holds the database open for writing.
	ErrLocked = errors.New("database is in use by another storyfeed process")
	// ErrNotDatabase means the file exists but is not a bbolt database.
	ErrNotDatabase = errors.New("not a storyfeed database")
	// ErrDamaged means the file is a bbolt database that cannot be read
	// safely, for example one cut short by a full disk or an interrupted
	// copy: restore a backup.
	ErrDamaged = errors.New("database file is damaged")
	// ErrSchema means the database was written by a newer storyfeed.
	ErrSchema = errors.New("database schema is newer than this storyfeed")
	// ErrNotFound means no record has the requested ID.
	ErrNotFound = errors.New("not found")
	// ErrBadID means an ID is not 16 hex digits.
	ErrBadID = errors.New("malformed ID")
	// ErrCorrupt means a stored record cannot be decoded.
	ErrCorrupt = errors.New("corrupt record")
	// ErrInvalidBatch means a batch is internally inconsistent; nothing of it
	// was written.
	ErrInvalidBatch = errors.New("invalid batch")
)
