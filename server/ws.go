package server

import (
	_ "embed"
	"net"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"zhili/access"
	"zhili/dashboard"
)

//go:embed openapi.yaml
var openAPI []byte

const (
	wsWriteWait = 10 * time.Second
	wsReadWait  = 60 * time.Second // a client (or its pongs) must be heard from this often
	wsReadLimit = 64 << 10
	wsCloseWait = time.Second // for the close frame of a client that may not read
)

// wsConn adapts a WebSocket connection to dashboard.Conn. The hub calls it from one writer
// goroutine per connection only.
type wsConn struct{ c *websocket.Conn }

func (w wsConn) Write(frame []byte) error {
	_ = w.c.SetWriteDeadline(time.Now().Add(wsWriteWait))
	return w.c.WriteMessage(websocket.TextMessage, frame)
}

func (w wsConn) Ping() error {
	return w.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait))
}

// Close sends a close frame (1001 going away, bounded by wsCloseWait) and closes the
// connection. The upgrade hands over fasthttp's hijacked connection, whose Close does nothing
// (fasthttp closes it when the handler returns), so the connection under it is closed: the
// handler's read ends at once rather than at its read deadline.
func (w wsConn) Close() error {
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(wsCloseWait))
	return w.raw().Close()
}

// Abort closes the connection under a Write in progress (dashboard.Aborter), with a reset:
// the rest of a frame the client did not read is of no use, and the kernel keeps no orphaned
// socket with it.
func (w wsConn) Abort() {
	nc := w.raw()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

func (w wsConn) raw() net.Conn {
	nc := w.c.NetConn()
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}

// wsWriteBuffers lends the WebSocket connections their write buffers while they write.
var wsWriteBuffers sync.Pool

// websocket answers GET /ws (behind require): it upgrades and serves one screen's topics.
func (s *Server) websocket() fiber.Handler {
	up := websocket.New(func(c *websocket.Conn) {
		// The handler must block for the life of the connection: Fiber pools the context.
		v, _ := c.Locals(principalKey).(*access.Principal)
		if v == nil {
			return
		}
		c.SetReadLimit(wsReadLimit)
		_ = c.SetReadDeadline(time.Now().Add(wsReadWait))
		c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(wsReadWait)) })
		cl := s.d.Hub.Attach(wsConn{c}, s.authorizeTopic(v))
		defer cl.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(wsReadWait))
			if mt == websocket.TextMessage {
				cl.Handle(msg)
			}
		}
	}, websocket.Config{
		// Small buffers: memory is multiplied by the number of screens. The write buffer is
		// taken from a pool for each message, so an idle screen holds none.
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &wsWriteBuffers,
	})
	return func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return fiber.ErrUpgradeRequired
		}
		return up(c)
	}
}

var (
	_ dashboard.Conn    = wsConn{}
	_ dashboard.Aborter = wsConn{}
)
