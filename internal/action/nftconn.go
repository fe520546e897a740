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
	"slices"
	"syscall"
	"time"

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
	buf      []byte    // for receive
}

func (s *nftSession) close() error { return s.conn.CloseLasting() }

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

// lookup asks the kernel, for each address, for the live interval of the
// set that holds it, as "nft get element" does, and returns the interval's
// start (the zero Addr where none holds it). Expired elements hold nothing,
// and a missing table or set holds nothing. A lookup needs no dump, so it
// costs the same whatever the size of the set; lookups are pipelined, a
// round of requests per sendmsg.
func (s *nftSession) lookup(set string, addrs ...netip.Addr) ([]netip.Addr, error) {
	starts := make([]netip.Addr, len(addrs))
	for off := 0; off < len(addrs); off += s.round() {
		chunk := addrs[off:min(off+s.round(), len(addrs))]
		msgs := make([]netlink.Message, len(chunk))
		for i, a := range chunk {
			m, err := nftGetElemsMsg(set, []netip.Addr{a})
			if err != nil {
				return nil, err
			}
			msgs[i] = m
		}
		first, err := s.send(msgs)
		if err != nil {
			return nil, fmt.Errorf("nftables: get elements of %s: %w", set, err)
		}
		// Each request gets one message: the element, or an error
		// (ENOENT: no element holds the address).
		got := starts[off : off+len(chunk)]
		pending := len(chunk)
		err = s.receive(func(m syscall.NetlinkMessage) (bool, error) {
			i := int(m.Header.Seq - first)
			if m.Header.Seq < first || i >= len(got) {
				return false, nil // not ours
			}
			pending--
			if errno := nlErrno(m); errno != 0 && errno != unix.ENOENT {
				return true, errno
			}
			got[i], _ = parseElemKey(m.Data)
			return pending == 0, nil
		})
		if err != nil {
			return nil, fmt.Errorf("nftables: get elements of %s: %w", set, err)
		}
	}
	return starts, nil
}

// holds reports how many of the keys are each the start of a live interval
// of the set, asking for many in one request. The kernel answers such a
// request element by element and stops at the first key it does not hold,
// so this suits checking what was just added, where every key should be
// there.
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
	_ = s.nl.SetReadDeadline(time.Now().Add(nftLookupWait))
	defer s.nl.SetReadDeadline(s.deadline)
	rc, err := s.nl.SyscallConn()
	if err != nil {
		return err
	}
	if s.buf == nil {
		s.buf = make([]byte, 64<<10)
	}
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), s.buf, unix.MSG_DONTWAIT)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		msgs, err := syscall.ParseNetlinkMessage(s.buf[:n])
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

// nlErrno returns the error number of a netlink error message (0 for an
// acknowledgement), and 0 for any other message.
func nlErrno(m syscall.NetlinkMessage) syscall.Errno {
	if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
		return 0
	}
	return syscall.Errno(-int32(binary.NativeEndian.Uint32(m.Data)))
}

// nftGetElemsMsg is a NFT_MSG_GETSETELEM request for the elements holding
// the addresses. Without an acknowledgement asked for, the reply to a
// single address is the element or an error.
func nftGetElemsMsg(set string, addrs []netip.Addr) (netlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NFTA_SET_ELEM_LIST_TABLE, nftTableName)
	ae.String(unix.NFTA_SET_ELEM_LIST_SET, set)
	ae.Nested(unix.NFTA_SET_ELEM_LIST_ELEMENTS, func(ae *netlink.AttributeEncoder) error {
		for _, a := range addrs {
			ae.Nested(unix.NFTA_LIST_ELEM, func(ae *netlink.AttributeEncoder) error {
				ae.Nested(unix.NFTA_SET_ELEM_KEY, func(ae *netlink.AttributeEncoder) error {
					ae.Bytes(unix.NFTA_DATA_VALUE, a.AsSlice())
					return nil
				})
				return nil
			})
		}
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return netlink.Message{}, err
	}
	return netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request,
		},
		// nfgenmsg: family, version, resource id.
		Data: append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}, nil
}

// nftSetElemsMsg is a NFT_MSG_NEWSETELEM (or, with del, DELSETELEM) message
// for the elements. A new element with excl set fails with EEXIST when its
// key is in the set already; without, it is left out quietly.
func nftSetElemsMsg(set string, elems []nftables.SetElement, del, excl bool) (netlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.String(unix.NFTA_SET_ELEM_LIST_TABLE, nftTableName)
	ae.String(unix.NFTA_SET_ELEM_LIST_SET, set)
	ae.Nested(unix.NFTA_SET_ELEM_LIST_ELEMENTS, func(ae *netlink.AttributeEncoder) error {
		for _, e := range elems {
			ae.Nested(unix.NFTA_LIST_ELEM, func(ae *netlink.AttributeEncoder) error {
				if e.IntervalEnd {
					ae.Uint32(unix.NFTA_SET_ELEM_FLAGS, unix.NFT_SET_ELEM_INTERVAL_END)
				}
				ae.Nested(unix.NFTA_SET_ELEM_KEY, func(ae *netlink.AttributeEncoder) error {
					ae.Bytes(unix.NFTA_DATA_VALUE, e.Key)
					return nil
				})
				if e.Timeout > 0 && !del {
					ae.Uint64(unix.NFTA_SET_ELEM_TIMEOUT, uint64(e.Timeout.Milliseconds()))
				}
				return nil
			})
		}
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return netlink.Message{}, err
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
		Data:   append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
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
		attrs, err := netlink.UnmarshalAttributes(b)
		if err != nil {
			return netip.Addr{}, false
		}
		i := slices.IndexFunc(attrs, func(a netlink.Attribute) bool { return a.Type&^unix.NLA_F_NESTED == typ })
		if i < 0 {
			return netip.Addr{}, false
		}
		b = attrs[i].Data
	}
	return netip.AddrFromSlice(b)
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
