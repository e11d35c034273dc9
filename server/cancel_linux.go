package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

const canWatchGone = true

// peerClosed reports whether the peer has shut down its sending side of the socket or the
// connection was reset: poll with a zero timeout, so it never blocks, never reads and sees
// the peer's FIN even behind unread (pipelined) bytes.
func peerClosed(rc syscall.RawConn) bool {
	closed := false
	err := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		if n, err := unix.Poll(fds, 0); err == nil && n > 0 {
			closed = fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
		}
	})
	return err == nil && closed
}
