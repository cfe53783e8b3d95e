// Package storage keeps storyfeed's records in one bbolt file: items, the
// stories they belong to, per-source fetch state, and the indexes that make
// newest-first reads and exact dedupe cheap.
//
// Storage is the single source of truth. Everything else (the dedupe index,
// the publisher's rendered feeds) is derived from it and can be rebuilt. The
// package does no fetching, parsing or clustering; it stores decisions made
// elsewhere, atomically.
//
// # Writes
//
// All writes go through [DB.Commit], one bbolt read-write transaction per
// [Batch], or [DB.CommitAll], one transaction for several batches written in
// order. The aggregator makes one batch per fetched source and groups small
// batches that queue behind a transaction, so a crash at any instant leaves
// whole batches committed and nothing half-written is ever read back.
//
// # Schema (version 1)
//
// Keys are big-endian so that bbolt's byte order is numeric order. Item and
// story IDs are 8 bytes (shown to users as 16 hex digits); see [ItemID].
// Values are records encoded as one version byte followed by JSON; a record
// with an unknown version byte is an error, never guessed at.
//
//	meta        "schema"     -> uint64 schema version (1)
//	            "generation" -> uint64, bumped by every commit that changes
//	                            what readers see
//	sources     name         -> SourceState
//	items       item ID      -> Item
//	item_time   first-seen unix nanos (8) | item ID (8) -> empty
//	                            (items in ingest order; start-up index rebuild)
//	stories     story ID     -> Story
//	story_time  updated unix nanos (8) | story ID (8) -> empty
//	                            (newest-first story reads)
//	urls        canonical URL -> item ID (first item seen with that URL)
//	hashes      content hash  -> item ID (first item seen with that text)
//	tombstones  item ID      -> deletion time (unix nanos); a deleted item is
//	                            never ingested again
//	features    item ID      -> story ID (8) | the dedupe engine's encoding
//	                            of the item's features (dedupe.Features):
//	                            the start-up index rebuild reads these, not
//	                            the items; an item without one is re-read
//	overrides   "split/"+item ID or "merge/"+story ID -> Override: a manual
//	                            split or merge, which the engine never undoes
//	hosts       host:port    -> until, unix nanos (8): the host answered 429
//	                            or 503 with Retry-After, and none of its
//	                            sources is fetched before then (by this or
//	                            any later process); see [DB.Holds]
//
// The features, overrides and hosts buckets were added after schema 1 was
// first released; Open creates them in an older file, and a read-only open of
// such a file treats them as empty.
//
// # Retention
//
// [DB.Expire] deletes the oldest items in bounded transactions: an item's
// record, its item_time, features and split override entries, the urls and
// hashes entries that point at it, and its ID from its story (a story left
// without members is deleted); it writes the item's tombstone in the same
// transaction. [DB.DropTombstones] forgets tombstones after a long time
// (the aggregator keeps them a year). [Compact] gives the freed pages back
// to the file system, offline; [DB.WriteTo] copies the database while
// writers go on.
//
// # Damage
//
// A file cut short is refused by [Open] with [ErrDamaged]. A page damaged in
// the middle of the file makes bbolt panic when a transaction reaches it;
// every transaction of this package recovers such a panic (bbolt has rolled
// the transaction back by then) and returns an error wrapping [ErrDamaged]
// that names the file and says to restore a backup. Panics raised outside
// bbolt, such as in a caller's callback, are not converted.
//
// A story's ID is the ID of the item that founded it, so it is derived from
// stable data (source name and GUID) and never changes once published.
package storage
