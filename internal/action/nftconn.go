//go:build linux

package action

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Socket buffers asked for. A transaction (a batch of messages) is a
// single sendmsg and must fit in the send buffer; the replies to a round of
// pipelined lookups wait in the receive buffer. Root may exceed the
// net.core limits (SO_*BUFFORCE); others get what the system allows, and
// the code sizes its batches and rounds by what it got.
const (
	nftSendBuf = 16 << 20
	nftRecvBuf = 4 << 20
)

// nftLookupRound is at most how many lookups go out in one sendmsg before
// their replies are read: about 100 bytes each way per lookup.
const nftLookupRound = 1024

// nftLookupWait bounds the wait for the replies to one round of requests.
const nftLookupWait = 10 * time.Second

// nftConnector opens a session on the nftables subsystem of the network
// namespace the action works in.
type nftConnector func() (*nftSession, error)

// nftSession is one netlink socket in one network namespace, held by a
// lasting nftables connection, which sets up the table layout. nl is that
// same socket, used directly where the library falls short: getting single
// elements (it can only dump a whole set), and element transactions with
// NLM_F_EXCL and every error read back. The backend's mutex keeps the two
// uses from interleaving.
type nftSession struct {
	conn     *nftables.Conn
	nl       *netlink.Conn
	sendBuf  int       // usable send buffer, in bytes
	recvBuf  int       // usable receive buffer, in bytes
	deadline time.Time // the caller's, or zero
	seq      uint32    // last sequence number of the session's own requests
	buf      *nlBuf    // for receive
	mm       *nlMmsg   // for receive of many replies; made on first use
}

func (s *nftSession) close() error {
	if s.buf != nil {
		nlBufs.Put(s.buf)
		s.buf = nil
	}
	if s.mm != nil {
		nlMmsgs.Put(s.mm)
		s.mm = nil
	}
	return s.conn.CloseLasting()
}

// nlBuf takes any netlink datagram.
type nlBuf [64 << 10]byte

// Receive buffers outlive their sessions (one per block added), so that a
// block does not leave 64 KiB of garbage behind: in a small heap that
// brings a collection every few blocks, which shows in the latency.
var (
	nlBufs  = sync.Pool{New: func() any { return new(nlBuf) }}
	nlMmsgs = sync.Pool{New: func() any { return newNlMmsg() }}
)

// nftConnectorFor returns the connector for env. Netlink cannot follow a
// command prefix the way programs run through env.Exec can, so the connector
// reads the runner (see netnsOf): for "ip netns exec NAME" it opens
// /run/netns/NAME and passes it with WithNetNSFd (this is how tests point
// both the netlink and the program backends at their namespace); with no
// prefix, or a Runner of another type, it works in the current namespace;
// any other prefix is an error, so that a block never lands in a namespace
// the caller did not mean.
func nftConnectorFor(env *Env) nftConnector {
	ns, err := netnsOf(env.exec())
	return func() (*nftSession, error) {
		if err != nil {
			return nil, err
		}
		return openNftSession(ns)
	}
}

// openNftSession opens a session in the named network namespace, or in the
// current one when ns is "".
func openNftSession(ns string) (*nftSession, error) {
	s := &nftSession{seq: 1 << 31} // apart from the library's numbers
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(func(c *netlink.Conn) error {
		s.nl = c
		s.sendBuf, s.recvBuf = growBuffers(c)
		// Error messages without a copy of the request: lookups that
		// find nothing get 36 bytes back rather than 100 or more.
		_ = c.SetOption(netlink.CapAcknowledge, true)
		return nil
	})}
	if ns != "" {
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			return nil, fmt.Errorf("nftables: open network namespace: %w", err)
		}
		defer f.Close()
		opts = append(opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: connect: %w", err)
	}
	s.conn = conn
	return s, nil
}

// growBuffers raises a socket's buffers to nftSendBuf and nftRecvBuf where
// it can, and returns the sizes it has. The kernel reports double what was
// set; count only what was set.
func growBuffers(c *netlink.Conn) (send, recv int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0
	}
	grow := func(fd int, force, opt, n int) int {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, n) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, n)
		}
		v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		return v / 2
	}
	_ = rc.Control(func(fd uintptr) {
		send = grow(int(fd), unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, nftSendBuf)
		recv = grow(int(fd), unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, nftRecvBuf)
	})
	return send, recv
}

// setDeadline makes the socket give up at ctx's deadline.
func (s *nftSession) setDeadline(ctx context.Context) {
	if d, ok := ctx.Deadline(); ok {
		s.deadline = d
		_ = s.nl.SetDeadline(d)
	}
}

// nftQuery is one address to look up in one set of Riposte's table.
type nftQuery struct {
	set  string
	addr netip.Addr
}

// lookup asks the kernel, for each address, for the live element of the
// set that holds it, as "nft get element" does, and returns the element's
// key: the address itself in a hash set, the interval's start in an
// interval set, the zero Addr where none holds it. Expired elements hold
// nothing, and a missing table or set holds nothing. A lookup needs no
// dump, so it costs the same whatever the size of the set; lookups are
// pipelined, a round of requests per sendmsg.
func (s *nftSession) lookup(set string, addrs ...netip.Addr) ([]netip.Addr, error) {
	qs := make([]nftQuery, len(addrs))
	for i, a := range addrs {
		qs[i] = nftQuery{set, a}
	}
	return s.lookupIn(qs)
}

// lookupIn is lookup for addresses in sets of their own, all in the same
// rounds.
func (s *nftSession) lookupIn(qs []nftQuery) ([]netip.Addr, error) {
	keys := make([]netip.Addr, len(qs))
	for off := 0; off < len(qs); off += s.round() {
		chunk := qs[off:min(off+s.round(), len(qs))]
		msgs := make([]netlink.Message, len(chunk))
		for i, q := range chunk {
			m, err := nftGetElemsMsg(q.set, []netip.Addr{q.addr})
			if err != nil {
				return nil, err
			}
			msgs[i] = m
		}
		first, err := s.send(msgs)
		if err != nil {
			return nil, fmt.Errorf("nftables: get elements of %s: %w", chunk[0].set, err)
		}
		// Each request gets one message: the element, or an error
		// (ENOENT: no element holds the address).
		got := keys[off : off+len(chunk)]
		pending, set := len(chunk), chunk[0].set
		err = s.receiveN(len(chunk), func(m syscall.NetlinkMessage) (bool, error) {
			i := int(m.Header.Seq - first)
			if m.Header.Seq < first || i >= len(got) {
				return false, nil // not ours
			}
			pending--
			if errno := nlErrno(m); errno != 0 && errno != unix.ENOENT {
				set = chunk[i].set
				return true, errno
			}
			got[i], _ = parseElemKey(m.Data)
			return pending == 0, nil
		})
		if err != nil {
			return nil, fmt.Errorf("nftables: get elements of %s: %w", set, err)
		}
	}
	return keys, nil
}

// holds reports how many of the keys are each the key of a live element of
// the set (an address of a hash set, the start of an interval), asking for
// many in one request. The kernel answers such a request element by
// element and stops at the first key it does not hold, so this suits
// checking what was just added, where every key should be there.
func (s *nftSession) holds(set string, keys []netip.Addr) (int, error) {
	const perRequest = 1024 // 100 KiB of replies
	found := 0
	for chunk := range slices.Chunk(keys, perRequest) {
		m, err := nftGetElemsMsg(set, chunk)
		if err != nil {
			return found, err
		}
		m.Header.Flags |= netlink.Acknowledge
		seq, err := s.send([]netlink.Message{m})
		if err != nil {
			return found, fmt.Errorf("nftables: get elements of %s: %w", set, err)
		}
		next := 0
		err = s.receive(func(m syscall.NetlinkMessage) (bool, error) {
			if m.Header.Seq != seq {
				return false, nil
			}
			if m.Header.Type == unix.NLMSG_ERROR {
				if errno := nlErrno(m); errno != 0 && errno != unix.ENOENT {
					return true, errno
				}
				return true, nil // done: all found, or stopped at a missing key
			}
			if k, ok := parseElemKey(m.Data); ok && next < len(chunk) && k == chunk[next] {
				found++
			}
			next++
			return false, nil
		})
		if err != nil {
			return found, fmt.Errorf("nftables: get elements of %s: %w", set, err)
		}
		if next < len(chunk) {
			break
		}
	}
	return found, nil
}

// batch sends messages as one nftables transaction, each asking for an
// acknowledgement, and returns the first error the kernel reports; the
// kernel applies all of them or none.
func (s *nftSession) batch(msgs []netlink.Message) error {
	all := make([]netlink.Message, 0, len(msgs)+2)
	all = append(all, nftBatchMsg(unix.NFNL_MSG_BATCH_BEGIN))
	for _, m := range msgs {
		m.Header.Flags |= netlink.Acknowledge
		all = append(all, m)
	}
	all = append(all, nftBatchMsg(unix.NFNL_MSG_BATCH_END))
	first, err := s.send(all)
	if err != nil {
		return err
	}
	var errs error
	pending := len(msgs)
	err = s.receive(func(m syscall.NetlinkMessage) (bool, error) {
		i := int(m.Header.Seq - first)
		if m.Header.Type != unix.NLMSG_ERROR || m.Header.Seq < first || i > len(msgs) {
			return false, nil // not ours
		}
		if i == 0 {
			// An error about the whole batch (out of memory): the
			// kernel sends nothing else.
			return true, fmt.Errorf("batch: %w", nlErrno(m))
		}
		pending--
		if errno := nlErrno(m); errno != 0 {
			errs = errors.Join(errs, fmt.Errorf("message %d: %w", i, errno))
		}
		return pending == 0, nil
	})
	return errors.Join(err, errs)
}

// nftBatchMsg is the begin or end marker of an nftables batch.
func nftBatchMsg(typ int) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request},
		// nfgenmsg: AF_UNSPEC, version, the subsystem as resource id.
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES},
	}
}

// round is how many requests go out before their replies are read, so
// that the replies (about 100 bytes each) fit the receive buffer.
func (s *nftSession) round() int {
	if s.recvBuf <= 0 {
		return 256
	}
	return min(nftLookupRound, max(1, s.recvBuf/256))
}

// send numbers the messages from the session's own sequence and sends
// them in one sendmsg. It returns the first number.
func (s *nftSession) send(msgs []netlink.Message) (uint32, error) {
	first := s.seq + 1
	for i := range msgs {
		s.seq++
		msgs[i].Header.Sequence = s.seq
	}
	_, err := s.nl.SendMessages(msgs)
	return first, err
}

// receive reads netlink messages from the socket, handing each to fn until
// fn reports it is done or fails. It reads the socket itself, since the
// netlink package stops at the first error message of a datagram and
// drops the rest.
func (s *nftSession) receive(fn func(syscall.NetlinkMessage) (bool, error)) error {
	return s.receiveN(1, fn)
}

// receiveN is receive expecting about n replies, each small: when n is
// large, it takes many datagrams per system call (recvmmsg), each of at
// most nlMmsgSize bytes. Replies to single-element lookups fit, error
// messages of a capped acknowledgement too.
func (s *nftSession) receiveN(n int, fn func(syscall.NetlinkMessage) (bool, error)) error {
	_ = s.nl.SetReadDeadline(time.Now().Add(nftLookupWait))
	defer s.nl.SetReadDeadline(s.deadline)
	rc, err := s.nl.SyscallConn()
	if err != nil {
		return err
	}
	var mm *nlMmsg
	if n >= nlMmsgMin {
		if s.mm == nil {
			s.mm = nlMmsgs.Get().(*nlMmsg)
		}
		mm = s.mm
	} else if s.buf == nil {
		s.buf = nlBufs.Get().(*nlBuf)
	}
	var grams [][]byte
	for {
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			if mm != nil {
				grams, rerr = mm.recv(int(fd))
			} else {
				var n int
				n, _, rerr = unix.Recvfrom(int(fd), s.buf[:], unix.MSG_DONTWAIT)
				if rerr == nil {
					grams = append(grams[:0], s.buf[:n])
				}
			}
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		for _, g := range grams {
			msgs, err := syscall.ParseNetlinkMessage(g)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				done, err := fn(m)
				if err != nil || done {
					return err
				}
			}
		}
	}
}

// recvmmsg for the replies to a round of lookups: nlMmsgSlots datagrams of
// up to nlMmsgSize bytes each per system call, when at least nlMmsgMin
// replies are expected.
const (
	nlMmsgSlots = 64
	nlMmsgSize  = 4096
	nlMmsgMin   = 16
)

// nlMmsg holds the buffers of recvmmsg.
type nlMmsg struct {
	hdrs  []nlMmsghdr
	iovs  []unix.Iovec
	buf   []byte
	grams [][]byte
}

// nlMmsghdr is struct mmsghdr: the Go struct has the C layout on every
// Linux architecture (msg_len padded to the alignment of msghdr).
type nlMmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

func newNlMmsg() *nlMmsg {
	m := &nlMmsg{
		hdrs: make([]nlMmsghdr, nlMmsgSlots),
		iovs: make([]unix.Iovec, nlMmsgSlots),
		buf:  make([]byte, nlMmsgSlots*nlMmsgSize),
	}
	for i := range m.hdrs {
		m.iovs[i].Base = &m.buf[i*nlMmsgSize]
		m.iovs[i].SetLen(nlMmsgSize)
		m.hdrs[i].hdr.Iov = &m.iovs[i]
		m.hdrs[i].hdr.SetIovlen(1)
	}
	return m
}

// recv reads the datagrams waiting, up to nlMmsgSlots, without blocking.
// A datagram longer than a slot is an error.
func (m *nlMmsg) recv(fd int) ([][]byte, error) {
	for i := range m.hdrs {
		m.hdrs[i].hdr.Flags = 0
		m.hdrs[i].len = 0
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(len(m.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	runtime.KeepAlive(m)
	if errno != 0 {
		return nil, errno
	}
	m.grams = m.grams[:0]
	for i := range int(n) {
		h := &m.hdrs[i]
		if h.hdr.Flags&unix.MSG_TRUNC != 0 {
			return nil, fmt.Errorf("netlink reply over %d bytes", nlMmsgSize)
		}
		off := i * nlMmsgSize
		m.grams = append(m.grams, m.buf[off:off+int(h.len)])
	}
	return m.grams, nil
}

// nlErrno returns the error number of a netlink error message (0 for an
// acknowledgement), and 0 for any other message.
func nlErrno(m syscall.NetlinkMessage) syscall.Errno {
	if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
		return 0
	}
	return syscall.Errno(-int32(binary.NativeEndian.Uint32(m.Data)))
}

// nlAttrs builds netlink attributes by hand: a header of length and type
// in host order, then the data, padded to 4 bytes. It is the netlink
// package's AttributeEncoder without the allocations, which show when
// building 100,000 lookups.
type nlAttrs struct {
	b   []byte
	err error
}

func (w *nlAttrs) bytes(typ uint16, data []byte) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(4+len(data)))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = append(w.b, data...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *nlAttrs) string(typ uint16, v string) {
	w.bytes(typ, append([]byte(v), 0))
}

func (w *nlAttrs) uint32(typ uint16, v uint32) { w.bytes(typ, binary.BigEndian.AppendUint32(nil, v)) }

func (w *nlAttrs) uint64(typ uint16, v uint64) { w.bytes(typ, binary.BigEndian.AppendUint64(nil, v)) }

// nest opens a nested attribute, closed by end with what nest returns.
func (w *nlAttrs) nest(typ uint16) int {
	at := len(w.b)
	w.b = binary.NativeEndian.AppendUint16(w.b, 0)
	w.b = binary.NativeEndian.AppendUint16(w.b, typ|unix.NLA_F_NESTED)
	return at
}

func (w *nlAttrs) end(at int) {
	n := len(w.b) - at
	if n > 0xffff {
		w.err = fmt.Errorf("netlink attribute of %d bytes, over 65535", n)
	}
	binary.NativeEndian.PutUint16(w.b[at:], uint16(n))
}

// nftElemsHeader starts the body of a set element message: nfgenmsg
// (family, version, resource id), the table and the set.
func nftElemsHeader(set string, size int) *nlAttrs {
	w := &nlAttrs{b: make([]byte, 0, 4+12+4+len(set)+4+size)}
	w.b = append(w.b, unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0)
	w.string(unix.NFTA_SET_ELEM_LIST_TABLE, nftTableName)
	w.string(unix.NFTA_SET_ELEM_LIST_SET, set)
	return w
}

// nftGetElemsMsg is a NFT_MSG_GETSETELEM request for the elements holding
// the addresses. Without an acknowledgement asked for, the reply to a
// single address is the element or an error.
func nftGetElemsMsg(set string, addrs []netip.Addr) (netlink.Message, error) {
	w := nftElemsHeader(set, len(addrs)*32)
	list := w.nest(unix.NFTA_SET_ELEM_LIST_ELEMENTS)
	for _, a := range addrs {
		elem := w.nest(unix.NFTA_LIST_ELEM)
		key := w.nest(unix.NFTA_SET_ELEM_KEY)
		w.bytes(unix.NFTA_DATA_VALUE, a.AsSlice())
		w.end(key)
		w.end(elem)
	}
	w.end(list)
	if w.err != nil {
		return netlink.Message{}, w.err
	}
	return netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request,
		},
		Data: w.b,
	}, nil
}

// nftSetElemsMsg is a NFT_MSG_NEWSETELEM (or, with del, DELSETELEM) message
// for the elements. A new element with excl set fails with EEXIST when its
// key is in the set already; without, it is left out quietly (or, on a
// kernel that updates timeouts, gets the new one).
func nftSetElemsMsg(set string, elems []nftables.SetElement, del, excl bool) (netlink.Message, error) {
	w := nftElemsHeader(set, len(elems)*44)
	list := w.nest(unix.NFTA_SET_ELEM_LIST_ELEMENTS)
	for _, e := range elems {
		elem := w.nest(unix.NFTA_LIST_ELEM)
		if e.IntervalEnd {
			w.uint32(unix.NFTA_SET_ELEM_FLAGS, unix.NFT_SET_ELEM_INTERVAL_END)
		}
		key := w.nest(unix.NFTA_SET_ELEM_KEY)
		w.bytes(unix.NFTA_DATA_VALUE, e.Key)
		w.end(key)
		if e.Timeout > 0 && !del {
			w.uint64(unix.NFTA_SET_ELEM_TIMEOUT, uint64(e.Timeout.Milliseconds()))
		}
		w.end(elem)
	}
	w.end(list)
	if w.err != nil {
		return netlink.Message{}, w.err
	}
	typ, flags := unix.NFT_MSG_NEWSETELEM, netlink.Request|netlink.Create
	if del {
		typ, flags = unix.NFT_MSG_DELSETELEM, netlink.Request
	}
	if excl && !del {
		flags |= netlink.Excl
	}
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | typ), Flags: flags},
		Data:   w.b,
	}, nil
}

// parseElemKey reads the key of the first element in a NEWSETELEM message
// body: nfgenmsg, then element list, element, key, value.
func parseElemKey(b []byte) (netip.Addr, bool) {
	if len(b) < 4 {
		return netip.Addr{}, false
	}
	b = b[4:]
	for _, typ := range []uint16{unix.NFTA_SET_ELEM_LIST_ELEMENTS, unix.NFTA_LIST_ELEM, unix.NFTA_SET_ELEM_KEY, unix.NFTA_DATA_VALUE} {
		var ok bool
		if b, ok = nlFind(b, typ); !ok {
			return netip.Addr{}, false
		}
	}
	return netip.AddrFromSlice(b)
}

// nlFind returns the data of the first attribute of type typ (nested or
// not) in b.
func nlFind(b []byte, typ uint16) ([]byte, bool) {
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if n < 4 || n > len(b) {
			return nil, false
		}
		if t == typ {
			return b[4:n], true
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return nil, false
}

// works reports whether nftables can be used here: a session opens and
// the tables can be listed.
func (b *nftBackend) works() bool {
	s, err := b.connect()
	if err != nil {
		return false
	}
	defer s.close()
	_, err = s.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	return err == nil
}
