/* confab-quic-endpoint.c: one UDP socket on the GLib main loop and the QUIC
 * connections behind it. A readable socket is drained (bounded per wakeup),
 * each datagram is routed by destination connection id, and the connections
 * that read something or have something to send are woken into one write
 * pass (a one-shot idle source, so it runs after the application handled
 * what was read). The pass's packets leave together at its end: one
 * sendmmsg() for all of them, and the packets of one connection in a row as
 * one UDP GSO send where the kernel takes it. One more GSource runs every
 * connection's timer from a heap: no source per connection. */
#define G_LOG_DOMAIN "confab-quic"

#include "confab-wt-private.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

/* Datagrams read per wakeup before yielding to other sources. */
#define CONFAB_QUIC_READ_BATCH 128

/* The send batch: at most this many sendmmsg() entries and bytes, then it is
 * sent early. A GSO entry carries at most 64 segments (the kernel's
 * UDP_MAX_SEGMENTS) and one IP datagram's worth of bytes. */
#define TX_MAX_MSGS      64
#define TX_BUF_SIZE      (64 * CONFAB_WT_TX_SLOT)
#define TX_GSO_MAX_SEGS  64
#define TX_GSO_MAX_BYTES 65000

struct _ConfabWtTx
{
  gsize used;
  guint n;
  struct mmsghdr msgs[TX_MAX_MSGS];
  struct iovec iov[TX_MAX_MSGS];
  struct sockaddr_storage to[TX_MAX_MSGS];
  guint16 gso_size[TX_MAX_MSGS];
  guint16 segs[TX_MAX_MSGS];
  gboolean closed[TX_MAX_MSGS]; /* ends with a short packet: nothing joins */
  union
  {
    char buf[CMSG_SPACE (sizeof (guint16))];
    struct cmsghdr align;
  } ctrl[TX_MAX_MSGS];
  guint8 buf[TX_BUF_SIZE];
};

typedef struct
{
  GSource source;
  ConfabWtEndpoint *ep;
} ConnSource;

/* The socket's source. It may recurse, because GLib blocks a source that
 * may not around each dispatch by taking its fd out of the poll set and
 * putting it back, and each of those two steps writes the context's wake-up
 * eventfd: two write()s and a poll-set rebuild per wake-up. A dispatch that
 * does nest (a handler running a main loop) mutes the fd instead, until the
 * outer one is done: ngtcp2 must not be re-entered. */
typedef struct
{
  GSource source;
  ConfabWtEndpoint *ep;
  gpointer tag;
  gboolean busy;
  gboolean muted;
} IoSource;

/* Datagrams per recvmmsg(); each slot holds a whole GRO run. */
#define RX_BATCH 16

typedef struct
{
  struct mmsghdr msgs[RX_BATCH];
  struct iovec iov[RX_BATCH];
  struct sockaddr_storage from[RX_BATCH];
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } ctrl[RX_BATCH];
  guint8 data[RX_BATCH][65536];
} RxArea;

/* One receive area per thread (1 MB), not per endpoint: a process with a
 * hundred client endpoints needs one. */
static GPrivate rx_area_key = G_PRIVATE_INIT (g_free);
static GPrivate rx_area_busy_key;

/* Connection ids as hash keys, so routing a packet allocates nothing. */
typedef struct
{
  guint8 len;
  guint8 data[NGTCP2_MAX_CIDLEN];
} CidKey;

static gboolean
cid_key_init (CidKey *key, const guint8 *cid, gsize len)
{
  if (len > NGTCP2_MAX_CIDLEN)
    return FALSE;
  key->len = (guint8) len;
  memcpy (key->data, cid, len);
  return TRUE;
}

static guint
cid_hash (gconstpointer p)
{
  const CidKey *key = p;
  guint h = 5381;

  for (guint i = 0; i < key->len; i++)
    h = (h * 33) ^ key->data[i];
  return h;
}

static gboolean
cid_equal (gconstpointer a, gconstpointer b)
{
  const CidKey *x = a, *y = b;

  return x->len == y->len && memcmp (x->data, y->data, x->len) == 0;
}

/* A Stateless Reset tells a client whose connection this process no longer
 * has (a relay restarted) to give up now rather than after the idle
 * timeout. Its token only matches when the reset secret survived the
 * restart (confab_wt_server_set_reset_secret, or --cert/--key files). */
static void
endpoint_send_reset (ConfabWtEndpoint *ep,
                     const struct sockaddr *to,
                     socklen_t to_len,
                     const ngtcp2_version_cid *vc,
                     gsize received)
{
  guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN];
  guint8 rand_bytes[32];
  guint8 buf[64];
  ngtcp2_cid cid;
  gsize total;
  ngtcp2_ssize n;

  /* Smaller than what triggered it, so two endpoints cannot loop. */
  if (received < 43 || vc->dcidlen != CONFAB_QUIC_SCID_LEN)
    return;
  total = MIN (received - 1, sizeof buf);
  ngtcp2_cid_init (&cid, vc->dcid, vc->dcidlen);
  if (ngtcp2_crypto_generate_stateless_reset_token (token, ep->reset_secret,
                                                    sizeof ep->reset_secret, &cid) != 0)
    return;
  gnutls_rnd (GNUTLS_RND_NONCE, rand_bytes, sizeof rand_bytes);
  n = ngtcp2_pkt_write_stateless_reset (buf, sizeof buf, token, rand_bytes,
                                        MIN (total - sizeof token, sizeof rand_bytes));
  if (n > 0)
    confab_wt_endpoint_send (ep, to, to_len, buf, (gsize) n);
}

static void
endpoint_handle (ConfabWtEndpoint *ep,
                 const struct sockaddr *from,
                 socklen_t from_len,
                 const guint8 *data,
                 gsize len)
{
  ngtcp2_version_cid vc;
  ConfabWtConn *conn = NULL;
  int rv;

  if (len == 0)
    return; /* ngtcp2 asserts on empty input */
  rv = ngtcp2_pkt_decode_version_cid (&vc, data, len, CONFAB_QUIC_SCID_LEN);
  if (rv != 0)
    return; /* garbage, or a version we do not speak: stay silent */

  if (ep->is_server)
    {
      CidKey key;

      if (!cid_key_init (&key, vc.dcid, vc.dcidlen))
        return;
      conn = g_hash_table_lookup (ep->conns_by_cid, &key);
      if (conn == NULL && vc.version == 0)
        {
          /* A short header for a connection we do not know: most likely
           * ours before a restart. */
          endpoint_send_reset (ep, from, from_len, &vc, len);
          return;
        }
      if (conn == NULL)
        {
          ngtcp2_pkt_hd hd;
          g_autoptr (GError) error = NULL;

          if (ep->n_conns >= ep->max_conns)
            return;
          if (ngtcp2_accept (&hd, data, len) != 0)
            return;
          conn = confab_wt_conn_new_server (ep, &hd, from, from_len, &error);
          if (conn == NULL)
            {
              g_debug ("refusing connection: %s", error->message);
              return;
            }
        }
    }
  else
    {
      if (ep->conns == NULL)
        return;
      conn = ep->conns->data;
    }

  confab_wt_conn_read (conn, from, from_len, data, len);
  confab_wt_endpoint_wake (ep, conn);
}

/* ---- sending: one batch per pass ---------------------------------------- */

/* A GSO send the kernel refused at run time: its packets one by one. */
static void
tx_send_split (ConfabWtEndpoint *ep, guint i)
{
  ConfabWtTx *tx = ep->tx;
  const guint8 *p = tx->iov[i].iov_base;
  gsize left = tx->iov[i].iov_len;

  while (left > 0)
    {
      gsize len = MIN (left, (gsize) tx->gso_size[i]);

      if (sendto (ep->fd, p, len, MSG_DONTWAIT, (struct sockaddr *) &tx->to[i],
                  tx->msgs[i].msg_hdr.msg_namelen) < 0 &&
          errno == EAGAIN)
        return;
      p += len;
      left -= len;
    }
}

static void
tx_flush (ConfabWtEndpoint *ep)
{
  ConfabWtTx *tx = ep->tx;
  guint done = 0;

  for (guint i = 0; i < tx->n; i++)
    {
      struct msghdr *mh = &tx->msgs[i].msg_hdr;

      mh->msg_name = &tx->to[i];
      mh->msg_iov = &tx->iov[i];
      mh->msg_iovlen = 1;
      mh->msg_flags = 0;
      if (tx->segs[i] > 1)
        {
          struct cmsghdr *cm = &tx->ctrl[i].align;

          mh->msg_control = tx->ctrl[i].buf;
          mh->msg_controllen = sizeof tx->ctrl[i].buf;
          cm->cmsg_level = SOL_UDP;
          cm->cmsg_type = UDP_SEGMENT;
          cm->cmsg_len = CMSG_LEN (sizeof (guint16));
          memcpy (CMSG_DATA (cm), &tx->gso_size[i], sizeof (guint16));
        }
      else
        {
          mh->msg_control = NULL;
          mh->msg_controllen = 0;
        }
    }

  while (done < tx->n)
    {
      int r = sendmmsg (ep->fd, tx->msgs + done, tx->n - done, MSG_DONTWAIT);
      int err;

      if (r > 0)
        {
          done += (guint) r;
          continue;
        }
      err = errno;
      if (r == 0 || err == EAGAIN || err == EWOULDBLOCK)
        break; /* a full socket buffer: QUIC treats it as loss and recovers */
      if (err == EINTR)
        continue;
      if ((err == EIO || err == EINVAL) && tx->segs[done] > 1)
        {
          /* GSO refused (EIO: the route's device cannot checksum it): send
           * this one's packets singly and stop batching by GSO. */
          g_debug ("UDP GSO refused (%s): sending packets one by one", g_strerror (err));
          ep->gso = FALSE;
          tx_send_split (ep, done);
          done++;
          continue;
        }
      /* A connected client socket reports an earlier ICMP port unreachable
       * on the next send. */
      if (err == ECONNREFUSED && !ep->is_server && ep->conns != NULL)
        {
          confab_wt_conn_peer_unreachable (ep->conns->data);
          break;
        }
      done++; /* this one's destination fails: the others may not */
    }
  tx->n = 0;
  tx->used = 0;
}

guint8 *
confab_wt_endpoint_tx_reserve (ConfabWtEndpoint *ep)
{
  ConfabWtTx *tx = ep->tx;

  if (TX_BUF_SIZE - tx->used < CONFAB_WT_TX_SLOT || tx->n == TX_MAX_MSGS)
    tx_flush (ep);
  return tx->buf + tx->used;
}

void
confab_wt_endpoint_tx_commit (ConfabWtEndpoint *ep,
                              const struct sockaddr *to,
                              socklen_t to_len,
                              gsize len)
{
  ConfabWtTx *tx = ep->tx;
  guint8 *data = tx->buf + tx->used;

  g_assert (len <= CONFAB_WT_TX_SLOT && tx->used + len <= TX_BUF_SIZE);
  if (len == 0 || to_len > sizeof (struct sockaddr_storage))
    return;
  if (tx->n > 0)
    {
      guint i = tx->n - 1;

      /* UDP GSO: equal-size packets to one address, only the last shorter. */
      if (ep->gso && !tx->closed[i] && len <= tx->gso_size[i] && tx->segs[i] < TX_GSO_MAX_SEGS &&
          tx->iov[i].iov_len + len <= TX_GSO_MAX_BYTES &&
          (guint8 *) tx->iov[i].iov_base + tx->iov[i].iov_len == data &&
          tx->msgs[i].msg_hdr.msg_namelen == to_len && memcmp (&tx->to[i], to, to_len) == 0)
        {
          tx->iov[i].iov_len += len;
          tx->segs[i]++;
          tx->closed[i] = len < tx->gso_size[i];
          goto added;
        }
    }
  {
    guint i = tx->n++;

    tx->iov[i].iov_base = data;
    tx->iov[i].iov_len = len;
    memcpy (&tx->to[i], to, to_len);
    tx->msgs[i].msg_hdr.msg_namelen = to_len;
    tx->gso_size[i] = (guint16) len;
    tx->segs[i] = 1;
    tx->closed[i] = FALSE;
  }
added:
  tx->used += len;
  /* Outside a pass (a close from a timeout, a stateless reset) nothing
   * else will send it. */
  if (ep->in_pass == 0)
    tx_flush (ep);
}

/* ---- scheduling: the timer heap and the write pass ------------------------- */

static inline guint64
heap_expiry (ConfabWtEndpoint *ep, guint i)
{
  return CONFAB_WT_SCHED (g_ptr_array_index (ep->timers, i))->expiry;
}

static inline void
heap_swap (ConfabWtEndpoint *ep, guint i, guint j)
{
  gpointer a = ep->timers->pdata[i], b = ep->timers->pdata[j];

  ep->timers->pdata[i] = b;
  ep->timers->pdata[j] = a;
  CONFAB_WT_SCHED (a)->heap_index = j;
  CONFAB_WT_SCHED (b)->heap_index = i;
}

static void
heap_up (ConfabWtEndpoint *ep, guint i)
{
  while (i > 0 && heap_expiry (ep, (i - 1) / 2) > heap_expiry (ep, i))
    {
      heap_swap (ep, i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
}

static void
heap_down (ConfabWtEndpoint *ep, guint i)
{
  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;

      if (l < ep->timers->len && heap_expiry (ep, l) < heap_expiry (ep, m))
        m = l;
      if (r < ep->timers->len && heap_expiry (ep, r) < heap_expiry (ep, m))
        m = r;
      if (m == i)
        return;
      heap_swap (ep, i, m);
      i = m;
    }
}

static void
heap_remove (ConfabWtEndpoint *ep, ConfabWtConn *conn)
{
  ConfabWtSched *s = CONFAB_WT_SCHED (conn);
  guint i = s->heap_index, last;

  if (i == CONFAB_WT_NO_TIMER)
    return;
  last = ep->timers->len - 1;
  if (i != last)
    heap_swap (ep, i, last);
  g_ptr_array_set_size (ep->timers, last);
  s->heap_index = CONFAB_WT_NO_TIMER;
  if (i < last)
    {
      heap_up (ep, i);
      heap_down (ep, i);
    }
}

void
confab_wt_endpoint_set_timer (ConfabWtEndpoint *ep, ConfabWtConn *conn, guint64 expiry)
{
  ConfabWtSched *s = CONFAB_WT_SCHED (conn);
  guint64 old = s->expiry;

  if (expiry == UINT64_MAX)
    {
      heap_remove (ep, conn);
      return;
    }
  s->expiry = expiry;
  if (s->heap_index == CONFAB_WT_NO_TIMER)
    {
      s->heap_index = ep->timers->len;
      g_ptr_array_add (ep->timers, conn);
      heap_up (ep, s->heap_index);
    }
  else if (expiry < old)
    heap_up (ep, s->heap_index);
  else if (expiry > old)
    heap_down (ep, s->heap_index);
}

static void endpoint_run_pass (ConfabWtEndpoint *ep);

static gboolean
pass_source_cb (gpointer data)
{
  ConfabWtEndpoint *ep = data;

  g_clear_pointer (&ep->pass_source, g_source_unref);
  endpoint_run_pass (ep);
  return G_SOURCE_REMOVE;
}

/* The write pass for woken connections runs from a one-shot idle source
 * attached now, i.e. after every source already attached: when a read
 * delivered messages, the application's own deferred work (the relay's
 * flush, an idle it attached while handling them) runs first and the pass
 * then carries both our ACKs and its fan-out in one sendmmsg(). */
static void
schedule_pass (ConfabWtEndpoint *ep)
{
  if (ep->pass_source != NULL || ep->dirty.length == 0)
    return;
  ep->pass_source = g_idle_source_new ();
  g_source_set_priority (ep->pass_source, G_PRIORITY_DEFAULT);
  g_source_set_callback (ep->pass_source, pass_source_cb, ep, NULL);
  g_source_set_name (ep->pass_source, "confab-quic-pass");
  g_source_attach (ep->pass_source, ep->context);
}

void
confab_wt_endpoint_wake (ConfabWtEndpoint *ep, ConfabWtConn *conn)
{
  ConfabWtSched *s = CONFAB_WT_SCHED (conn);

  if (s->dirty)
    return;
  s->dirty = TRUE;
  g_queue_push_tail_link (&ep->dirty, &s->link);
  /* Inside a read or a pass, its end schedules. */
  if (ep->in_pass == 0)
    schedule_pass (ep);
}

void
confab_wt_endpoint_forget (ConfabWtEndpoint *ep, ConfabWtConn *conn)
{
  ConfabWtSched *s = CONFAB_WT_SCHED (conn);

  if (s->dirty)
    {
      g_queue_unlink (&ep->dirty, &s->link);
      s->dirty = FALSE;
    }
  heap_remove (ep, conn);
}

/* Runs the connections whose timer expired and every woken one, once each
 * (one woken again while we run waits for the next pass), then sends the
 * pass's packets together. */
static void
endpoint_run_pass (ConfabWtEndpoint *ep)
{
  /* A client's session owns this endpoint: keep it alive while we work
   * (a "closed" handler may drop it). */
  g_autoptr (ConfabWtSession) hold =
      !ep->is_server && ep->client_session != NULL ? g_object_ref (ep->client_session) : NULL;
  guint64 now = confab_quic_now ();
  guint n;

  ep->in_pass++;
  while (ep->timers->len > 0 && heap_expiry (ep, 0) <= now)
    {
      ConfabWtConn *conn = g_ptr_array_index (ep->timers, 0);

      heap_remove (ep, conn);
      confab_wt_endpoint_wake (ep, conn);
    }
  for (n = ep->dirty.length; n > 0; n--)
    {
      GList *link = g_queue_pop_head_link (&ep->dirty);

      if (link == NULL)
        break;
      CONFAB_WT_SCHED (link->data)->dirty = FALSE;
      confab_wt_conn_run (link->data);
    }
  ep->in_pass--;
  tx_flush (ep);
  /* Woken again while we ran (a full burst): the next pass. */
  if (ep->in_pass == 0)
    schedule_pass (ep);
}

static gboolean
conn_source_due (ConfabWtEndpoint *ep, gint64 now_us, gint *timeout)
{
  guint64 now = (guint64) now_us * 1000, expiry;

  if (ep->timers->len == 0)
    {
      *timeout = -1;
      return FALSE;
    }
  expiry = heap_expiry (ep, 0);
  if (expiry <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  /* Rounded up, as GLib does for ready times: never early, so never a
   * wake-up that finds nothing due. */
  *timeout = (gint) MIN ((expiry - now + 999999) / 1000000, (guint64) G_MAXINT);
  return FALSE;
}

/* prepare/check compute the timeout from the heap's top: nothing to update
 * (and no eventfd to write) when a connection's expiry changes. Expired
 * timers run their connections in a pass right here. */
static gboolean
conn_source_prepare (GSource *source, gint *timeout)
{
  return conn_source_due (((ConnSource *) source)->ep, g_source_get_time (source), timeout);
}

static gboolean
conn_source_check (GSource *source)
{
  gint timeout;

  return conn_source_due (((ConnSource *) source)->ep, g_source_get_time (source), &timeout);
}

static gboolean
conn_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  endpoint_run_pass (((ConnSource *) source)->ep);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs conn_source_funcs = {
  .prepare = conn_source_prepare,
  .check = conn_source_check,
  .dispatch = conn_source_dispatch,
};

/* ---- receiving -------------------------------------------------------------- */

static void
endpoint_read (ConfabWtEndpoint *ep)
{
  RxArea *rx = g_private_get (&rx_area_key);
  g_autofree RxArea *nested = NULL;

  /* Another endpoint's read on this thread is under us (a nested main
   * loop): its area is in use. Rare; then one of our own. */
  if (g_private_get (&rx_area_busy_key) != NULL)
    rx = nested = g_new (RxArea, 1);
  else if (rx == NULL)
    {
      rx = g_new (RxArea, 1);
      g_private_set (&rx_area_key, rx);
    }
  if (nested == NULL)
    g_private_set (&rx_area_busy_key, GINT_TO_POINTER (1));

  /* Whatever reading sends (a stateless reset, a CONNECTION_CLOSE) joins
   * the pass's batch. */
  ep->in_pass++;
  for (guint round = 0; round < CONFAB_QUIC_READ_BATCH / RX_BATCH; round++)
    {
      int r;

      for (guint i = 0; i < RX_BATCH; i++)
        {
          struct msghdr *mh = &rx->msgs[i].msg_hdr;

          rx->iov[i].iov_base = rx->data[i];
          rx->iov[i].iov_len = sizeof rx->data[i];
          mh->msg_name = &rx->from[i];
          mh->msg_namelen = sizeof rx->from[i];
          mh->msg_iov = &rx->iov[i];
          mh->msg_iovlen = 1;
          mh->msg_control = rx->ctrl[i].buf;
          mh->msg_controllen = sizeof rx->ctrl[i].buf;
          mh->msg_flags = 0;
        }
      r = recvmmsg (ep->fd, rx->msgs, RX_BATCH, MSG_DONTWAIT, NULL);
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          /* A client's socket is connected, so an ICMP port unreachable
           * from the server's address comes back here: nobody listens. */
          if (errno == ECONNREFUSED && !ep->is_server && ep->conns != NULL)
            {
              ConfabWtConn *conn = ep->conns->data;

              confab_wt_conn_peer_unreachable (conn);
              confab_wt_endpoint_wake (ep, conn);
              continue;
            }
          break; /* EAGAIN */
        }
      for (int i = 0; i < r; i++)
        {
          struct msghdr *mh = &rx->msgs[i].msg_hdr;
          gsize n = rx->msgs[i].msg_len, seg = n;

          /* UDP GRO: a run of equal-size datagrams from one sender (a GSO
           * send on this host) arrives as one; split it back into packets. */
          for (struct cmsghdr *cm = CMSG_FIRSTHDR (mh); cm != NULL; cm = CMSG_NXTHDR (mh, cm))
            if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO)
              {
                int gso = 0;

                memcpy (&gso, CMSG_DATA (cm), sizeof gso);
                if (gso > 0)
                  seg = (gsize) gso;
              }
          for (gsize off = 0; off < n; off += seg)
            endpoint_handle (ep, (struct sockaddr *) &rx->from[i], mh->msg_namelen,
                             rx->data[i] + off, MIN (seg, n - off));
        }
      if (r < RX_BATCH)
        break; /* drained: no extra call just to hear EAGAIN */
    }
  if (nested == NULL)
    g_private_set (&rx_area_busy_key, NULL);
  ep->in_pass--;
  tx_flush (ep); /* what reading itself sent */
  if (ep->in_pass == 0)
    schedule_pass (ep);
}

static gboolean
io_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  IoSource *io = (IoSource *) source;
  ConfabWtEndpoint *ep = io->ep;
  /* A client's session owns this endpoint: keep it alive while we work. */
  g_autoptr (ConfabWtSession) hold =
      !ep->is_server && ep->client_session != NULL ? g_object_ref (ep->client_session) : NULL;

  if (io->busy)
    {
      if (!io->muted)
        {
          g_source_modify_unix_fd (source, io->tag, 0);
          io->muted = TRUE;
        }
      return G_SOURCE_CONTINUE;
    }
  io->busy = TRUE;
  endpoint_read (ep);
  io->busy = FALSE;
  if (io->muted && !g_source_is_destroyed (source))
    {
      io->muted = FALSE;
      g_source_modify_unix_fd (source, io->tag, G_IO_IN);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs io_source_funcs = {
  .dispatch = io_source_dispatch,
};

ConfabWtEndpoint *
confab_wt_endpoint_new (gboolean is_server,
                        const ConfabWtConnConfig *config,
                        gnutls_certificate_credentials_t cred)
{
  ConfabWtEndpoint *ep = g_new0 (ConfabWtEndpoint, 1);

  ep->is_server = is_server;
  ep->config = *config;
  ep->cred = cred;
  ep->fd = -1;
  ep->max_conns = 4096;
  ep->context = g_main_context_ref_thread_default ();
  ep->conns_by_cid = g_hash_table_new_full (cid_hash, cid_equal, g_free, NULL);
  gnutls_rnd (GNUTLS_RND_RANDOM, ep->reset_secret, sizeof ep->reset_secret);
  g_queue_init (&ep->dirty);
  ep->timers = g_ptr_array_new ();
  ep->tx = g_new0 (ConfabWtTx, 1);
  ep->conn_source = g_source_new (&conn_source_funcs, sizeof (ConnSource));
  ((ConnSource *) ep->conn_source)->ep = ep;
  g_source_set_name (ep->conn_source, "confab-quic-conns");
  /* A handler that runs a nested loop must not stall the other connections
   * (the pass takes one connection at a time off the queue, so it nests). */
  g_source_set_can_recurse (ep->conn_source, TRUE);
  g_source_attach (ep->conn_source, ep->context);
  return ep;
}

gboolean
confab_wt_endpoint_bind (ConfabWtEndpoint *ep, GInetSocketAddress *addr, GError **error)
{
  g_autoptr (GSocketAddress) local = NULL;
  int size = 4 * 1024 * 1024;

  ep->socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (addr)),
                             G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (ep->socket == NULL)
    return FALSE;
  g_socket_set_blocking (ep->socket, FALSE);
  if (!g_socket_bind (ep->socket, G_SOCKET_ADDRESS (addr), FALSE, error))
    return FALSE;
  ep->fd = g_socket_get_fd (ep->socket);
  /* Bursts of a 1 MB message must not overflow the default ~200 KB buffers. */
  setsockopt (ep->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt (ep->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  /* UDP GSO (Linux 4.18) sends a connection's run of full packets in one
   * go; a kernel without it fails the query. CONFAB_QUIC_GSO=0 turns it off
   * (tests of the plain path, comparisons). */
  {
    int v = 0;
    socklen_t vlen = sizeof v;

    ep->gso = getsockopt (ep->fd, SOL_UDP, UDP_SEGMENT, &v, &vlen) == 0 &&
              g_strcmp0 (g_getenv ("CONFAB_QUIC_GSO"), "0") != 0;
    /* And the receiving half: a GSO run from a peer on this host arrives
     * in one read instead of one per packet. Optional. */
    v = 1;
    if (ep->gso)
      setsockopt (ep->fd, SOL_UDP, UDP_GRO, &v, sizeof v);
  }

  local = g_socket_get_local_address (ep->socket, error);
  if (local == NULL)
    return FALSE;
  ep->local_len = (socklen_t) g_socket_address_get_native_size (local);
  if (!g_socket_address_to_native (local, &ep->local, sizeof ep->local, error))
    return FALSE;

  ep->io_source = g_source_new (&io_source_funcs, sizeof (IoSource));
  ((IoSource *) ep->io_source)->ep = ep;
  ((IoSource *) ep->io_source)->tag = g_source_add_unix_fd (ep->io_source, ep->fd, G_IO_IN);
  g_source_set_can_recurse (ep->io_source, TRUE);
  g_source_set_name (ep->io_source, "confab-quic-socket");
  g_source_attach (ep->io_source, ep->context);
  return TRUE;
}

gboolean
confab_wt_endpoint_connect (ConfabWtEndpoint *ep,
                            const struct sockaddr *remote,
                            socklen_t remote_len,
                            GError **error)
{
  if (connect (ep->fd, remote, remote_len) != 0)
    {
      int saved = errno;

      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CONNECT, "connect: %s",
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

void
confab_wt_endpoint_send (ConfabWtEndpoint *ep,
                         const struct sockaddr *to,
                         socklen_t to_len,
                         const guint8 *data,
                         gsize len)
{
  if (len == 0 || len > CONFAB_WT_TX_SLOT)
    return;
  memcpy (confab_wt_endpoint_tx_reserve (ep), data, len);
  confab_wt_endpoint_tx_commit (ep, to, to_len, len);
}

void
confab_wt_endpoint_add_cid (ConfabWtEndpoint *ep, const guint8 *cid, gsize len, ConfabWtConn *conn)
{
  CidKey *key = g_new (CidKey, 1);

  if (!cid_key_init (key, cid, len))
    {
      g_free (key);
      return;
    }
  g_hash_table_insert (ep->conns_by_cid, key, conn);
}

void
confab_wt_endpoint_remove_cid (ConfabWtEndpoint *ep, const guint8 *cid, gsize len)
{
  CidKey key;

  if (cid_key_init (&key, cid, len))
    g_hash_table_remove (ep->conns_by_cid, &key);
}

void
confab_wt_endpoint_free (ConfabWtEndpoint *ep)
{
  if (ep->io_source != NULL)
    {
      g_source_destroy (ep->io_source);
      g_source_unref (ep->io_source);
    }
  g_source_destroy (ep->conn_source);
  g_source_unref (ep->conn_source);
  if (ep->pass_source != NULL)
    {
      g_source_destroy (ep->pass_source);
      g_clear_pointer (&ep->pass_source, g_source_unref);
    }
  while (ep->conns != NULL)
    {
      ConfabWtConn *conn = ep->conns->data;

      ep->conns = g_list_delete_link (ep->conns, ep->conns);
      confab_wt_conn_free (conn);
    }
  /* What the last pass left (a CONNECTION_CLOSE) still goes. */
  if (ep->fd >= 0)
    tx_flush (ep);
  g_ptr_array_unref (ep->timers);
  g_free (ep->tx);
  g_hash_table_destroy (ep->conns_by_cid);
  ep->conns_by_cid = NULL;
  g_clear_object (&ep->socket);
  if (ep->owns_cred)
    gnutls_certificate_free_credentials (ep->cred);
  g_main_context_unref (ep->context);
  g_free (ep);
}
