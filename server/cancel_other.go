//go:build !linux

package server

import "syscall"

// Other platforms do not watch for a client that leaves (see watchGone); the query deadline
// and shutdown still cancel history queries.
const canWatchGone = false

func peerClosed(syscall.RawConn) bool { return false }
