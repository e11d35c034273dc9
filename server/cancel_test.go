package server

import (
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the server and client ends of a loopback TCP connection.
func tcpPair(t *testing.T) (srv, cli net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// watch starts watchGone on srv and returns a channel closed when gone is called.
func watch(t *testing.T, srv net.Conn) (gone chan struct{}, stop func()) {
	gone = make(chan struct{})
	stop = watchGone(srv, 5*time.Millisecond, func() { close(gone) })
	t.Cleanup(stop)
	return gone, stop
}

func isGone(gone chan struct{}, within time.Duration) bool {
	select {
	case <-gone:
		return true
	case <-time.After(within):
		return false
	}
}

// The watch sees a client that closes, also behind bytes it sent and the server has not read,
// and it never takes those bytes: the server reads them afterwards.
func TestWatchGone(t *testing.T) {
	if !canWatchGone {
		t.Skip("no watch on this platform")
	}
	t.Run("closed", func(t *testing.T) {
		srv, cli := tcpPair(t)
		gone, _ := watch(t, srv)
		if isGone(gone, 100*time.Millisecond) {
			t.Fatal("gone while the client is connected")
		}
		cli.Close()
		if !isGone(gone, 10*time.Second) {
			t.Fatal("a closed client not seen")
		}
	})
	t.Run("pipelined bytes stay", func(t *testing.T) {
		srv, cli := tcpPair(t)
		gone, stop := watch(t, srv)
		next := "GET /healthz HTTP/1.1\r\nHost: zhili\r\n\r\n"
		if _, err := io.WriteString(cli, next); err != nil {
			t.Fatal(err)
		}
		if isGone(gone, 200*time.Millisecond) {
			t.Fatal("gone while the client is connected and has sent its next request")
		}
		stop()
		b := make([]byte, len(next))
		_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(srv, b); err != nil || string(b) != next {
			t.Fatalf("the server read %q (%v), want the pipelined request intact", b, err)
		}
	})
	t.Run("closed behind pipelined bytes", func(t *testing.T) {
		srv, cli := tcpPair(t)
		gone, _ := watch(t, srv)
		if _, err := io.WriteString(cli, "GET /healthz HTTP/1.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		cli.Close()
		if !isGone(gone, 10*time.Second) {
			t.Fatal("a client that closed after sending more was not seen")
		}
	})
	t.Run("stopped", func(t *testing.T) {
		srv, cli := tcpPair(t)
		gone, stop := watch(t, srv)
		stop()
		cli.Close()
		if isGone(gone, 200*time.Millisecond) {
			t.Fatal("gone called after stop")
		}
	})
}
