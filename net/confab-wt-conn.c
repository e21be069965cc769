/* confab-wt-conn.c: one QUIC connection (ngtcp2 + GnuTLS) carrying HTTP/3
 * and one WebTransport session, for either side. The endpoint feeds it UDP
 * datagrams and runs it: its one timer (ngtcp2_conn_get_expiry, re-armed
 * after every read and write) lives in the endpoint's heap, and a connection
 * with something to write is woken into the endpoint's next write pass.
 * Callers never re-enter ngtcp2: sending only queues and wakes. */
#define G_LOG_DOMAIN "confab-wt"

#include "confab-wt-private.h"

#include <errno.h>
#include <glib/gprintf.h>
#include <stdarg.h>
#include <stdio.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <string.h>

typedef enum
{
  STREAM_NEW,        /* remote stream whose type is not read yet */
  STREAM_CONTROL_IN, /* the peer's HTTP/3 control stream */
  STREAM_DISCARD,    /* QPACK streams, unknown types, finished messages */
  STREAM_REQUEST,    /* the CONNECT stream */
  STREAM_WT_SID,     /* a WebTransport stream before its session id */
  STREAM_WT_IN,      /* a WebTransport stream's message */
  STREAM_LOCAL,      /* our send-only streams */
} StreamKind;

typedef struct
{
  int64_t id;
  StreamKind kind;
  gboolean bidi_wt;

  /* Receiving. */
  GByteArray *in;      /* frame or header bytes not parsed yet (small, bounded) */
  GByteArray *payload; /* a WebTransport message so far */
  GByteArray *capsules;
  uint64_t skip; /* bytes of an ignored frame still to come */
  uint64_t held; /* bytes of payload counted in conn->buffered */
  gboolean got_headers;

  /* Sending: immutable chunks kept until the stream closes, because ngtcp2
   * retransmits from our memory rather than copying it. */
  GPtrArray *chunks; /* GBytes */
  guint chunk_index;
  gsize chunk_offset;
  gsize total;
  gsize sent;
  gboolean fin;
  gboolean fin_sent;
  gboolean blocked;
  GList *send_link; /* in send_in while it has something to write */
  GQueue *send_in;
  gboolean counted; /* counts against the queue bounds */
} ConfabWtStream;

struct _ConfabWtConn
{
  ConfabWtSched sched;  /* first: see CONFAB_WT_SCHED */
  ConfabWtEndpoint *ep; /* borrowed: outlives its connections */
  ngtcp2_conn *conn;
  ngtcp2_crypto_conn_ref conn_ref;
  gnutls_session_t tls;
  struct sockaddr_storage remote;
  socklen_t remote_len;
  gboolean dead;
  gboolean close_requested;
  guint64 close_app_code;
  guint64 close_deadline; /* ns; 0 = none */
  GError *close_error;    /* why the session ends when the connection dies */

  GHashTable *streams; /* int64 id -> ConfabWtStream */
  GQueue send_queue;   /* streams with bytes or FIN to write, in order */
  GQueue send_urgent;  /* the same for small ones, which go first */
  GQueue pending_open; /* our uni streams waiting for a stream id */
  GQueue datagrams;    /* GBytes waiting to go */
  gsize buffered;      /* partial incoming messages, all streams */
  guint queued_streams;
  gsize queued_bytes;

  gboolean h3_ready;  /* our control stream is open */
  int64_t control_id; /* our control stream */
  gboolean drain_sent;
  gboolean drain_wanted; /* asked before our control stream existed */
  ConfabH3Settings peer_settings;
  gboolean peer_control_seen;

  /* The WebTransport session (one per connection). */
  ConfabWtSession *session;
  gboolean owns_session;
  int64_t session_id; /* CONNECT stream id, -1 before */
  gboolean session_open;
  /* Server: the response to the CONNECT is written; no datagram goes
   * before it (a client drops datagrams of a session it does not know). */
  gboolean response_written;
  gsize response_end;
  guint8 dgram_prefix[8];
  gsize dgram_prefix_len;

  /* Client only. */
  char *host;
  char *authority;
  GQueue early;        /* messages that beat the CONNECT answer */
  GQueue early_dgrams; /* datagrams that did (they travel apart from it) */
  gboolean answered;
  char *path;
  guint8 pin[32];
  gboolean have_pin;
  gboolean insecure;
  gboolean cert_failed;
  gboolean connect_sent;
  guint64 defer_until;  /* ns; a deferred read-only write pass is due (0: none) */
  guint rx_since_write; /* packets read since the last write pass */
};

/* A client that only received (nothing of its own to send) writes its ACKs
 * at most this long afterwards, for everything received meanwhile, instead
 * of after each packet (ngtcp2's ACK delay is RTT/8: ~0.1 ms on loopback).
 * As Chromium's ACK decimation does, this cuts the ACKs a relay must wake
 * up for and process from ~1 per packet sent to ~1 per this interval per
 * receiver. Anything of our own to send goes at once and takes the ACK
 * with it. Well below the 25 ms max_ack_delay we advertise. */
#define CONFAB_WT_CLIENT_ACK_DEFER_NS (4 * NGTCP2_MILLISECONDS)
/* ... or after this many packets, so a burst (a keyframe, a backlog) is ACKed
 * as it arrives and the sender's window keeps opening. */
#define CONFAB_WT_CLIENT_ACK_DEFER_PACKETS 10

static void conn_schedule (ConfabWtConn *c);
static void conn_mark_dead (ConfabWtConn *c, GError *error);

/* ---- streams -------------------------------------------------------------- */

static void
stream_free (ConfabWtStream *s)
{
  g_clear_pointer (&s->in, g_byte_array_unref);
  g_clear_pointer (&s->payload, g_byte_array_unref);
  g_clear_pointer (&s->capsules, g_byte_array_unref);
  g_clear_pointer (&s->chunks, g_ptr_array_unref);
  g_free (s);
}

static ConfabWtStream *
stream_new (int64_t id, StreamKind kind)
{
  ConfabWtStream *s = g_new0 (ConfabWtStream, 1);

  s->id = id;
  s->kind = kind;
  return s;
}

static ConfabWtStream *
conn_stream (ConfabWtConn *c, int64_t id)
{
  return g_hash_table_lookup (c->streams, &id);
}

static void
conn_add_stream (ConfabWtConn *c, ConfabWtStream *s)
{
  g_hash_table_insert (c->streams, &s->id, s);
}

/* Small messages (audio, probes, control frames) go before large ones
 * (video keyframes) so they never wait behind them; large ones still go one
 * after another, so a receiver holds few partial messages at a time. */
#define CONFAB_WT_URGENT_BYTES 2400

static void
stream_enqueue (ConfabWtConn *c, ConfabWtStream *s)
{
  s->send_in = s->total - s->sent <= CONFAB_WT_URGENT_BYTES ? &c->send_urgent : &c->send_queue;
  g_queue_push_tail (s->send_in, s);
  s->send_link = s->send_in->tail;
}

/* Appends bytes to a stream's send side and queues it for the writer. */
static void
stream_queue (ConfabWtConn *c, ConfabWtStream *s, GBytes *chunk, gboolean fin)
{
  if (s->fin)
    return;
  if (s->chunks == NULL)
    s->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if (chunk != NULL && g_bytes_get_size (chunk) > 0)
    {
      g_ptr_array_add (s->chunks, g_bytes_ref (chunk));
      s->total += g_bytes_get_size (chunk);
    }
  s->fin = fin;
  if (s->id >= 0 && s->send_link == NULL && !s->blocked)
    stream_enqueue (c, s);
}

static void
stream_queue_copy (ConfabWtConn *c, ConfabWtStream *s, const guint8 *data, gsize len, gboolean fin)
{
  g_autoptr (GBytes) b = len > 0 ? g_bytes_new (data, len) : NULL;

  stream_queue (c, s, b, fin);
}

static void
stream_unqueue (ConfabWtConn *c, ConfabWtStream *s)
{
  if (s->send_link != NULL)
    {
      g_queue_delete_link (s->send_in, s->send_link);
      s->send_link = NULL;
      s->send_in = NULL;
    }
}

/* Fills vecs from the unsent position; returns how many. */
static size_t
stream_vecs (ConfabWtStream *s, ngtcp2_vec *vec, size_t max)
{
  size_t n = 0;
  gsize offset = s->chunk_offset;

  for (guint i = s->chunk_index; s->chunks != NULL && i < s->chunks->len && n < max; i++)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (s->chunks, i), &size);

      vec[n].base = (uint8_t *) data + offset;
      vec[n].len = size - offset;
      n++;
      offset = 0;
    }
  return n;
}

static void
stream_advance (ConfabWtStream *s, gsize n)
{
  s->sent += n;
  while (n > 0 && s->chunk_index < s->chunks->len)
    {
      gsize size = g_bytes_get_size (g_ptr_array_index (s->chunks, s->chunk_index));
      gsize left = size - s->chunk_offset;

      if (n < left)
        {
          s->chunk_offset += n;
          return;
        }
      n -= left;
      s->chunk_index++;
      s->chunk_offset = 0;
    }
}

/* ---- sessions ------------------------------------------------------------- */

static void
conn_request_close (ConfabWtConn *c, guint64 app_code)
{
  if (c->close_requested)
    return;
  c->close_requested = TRUE;
  c->close_app_code = app_code;
  conn_schedule (c);
}

static void
conn_end_session (ConfabWtConn *c, const GError *error, guint32 code, const char *reason)
{
  ConfabWtStream *req;

  if (!c->session_open)
    return;
  c->session_open = FALSE;
  req = conn_stream (c, c->session_id);
  if (req != NULL)
    stream_queue (c, req, NULL, TRUE);
  /* The peer should answer with its own FIN; don't wait for it forever. */
  c->close_deadline = confab_quic_now () + 2 * NGTCP2_SECONDS;
  conn_schedule (c);
  /* Last: a "closed" handler may drop the session and with it (client
   * side) this connection. */
  if (c->session != NULL)
    confab_wt_session_finish (c->session, error, code, reason);
}

static void
conn_open_session (ConfabWtConn *c, int64_t id)
{
  c->session_id = id;
  c->session_open = TRUE;
  c->dgram_prefix_len =
      confab_wt_datagram_prefix_write (c->dgram_prefix, sizeof c->dgram_prefix, (uint64_t) id);
}

static void
conn_protocol_error (ConfabWtConn *c, guint64 h3_code, const char *what)
{
  g_debug ("protocol error 0x%" G_GINT64_MODIFIER "x: %s", h3_code, what);
  if (c->close_error == NULL)
    c->close_error = g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_PROTOCOL,
                                  "HTTP/3 error 0x%" G_GINT64_MODIFIER "x: %s", h3_code, what);
  conn_request_close (c, h3_code);
}

/* Server: a HEADERS frame on a request stream. */
static void
conn_handle_request (ConfabWtConn *c, ConfabWtStream *s, const guint8 *payload, gsize len)
{
  g_autofree ConfabH3HeaderList *headers = g_new (ConfabH3HeaderList, 1);
  g_autoptr (ConfabWtSession) session = NULL;
  const char *method, *protocol, *path;
  guint8 frame[256];
  gsize n;
  guint status = 400;

  if (!confab_h3_headers_decode (payload, len, headers))
    goto answer;
  method = confab_h3_headers_get (headers, ":method");
  protocol = confab_h3_headers_get (headers, ":protocol");
  path = confab_h3_headers_get (headers, ":path");
  if (g_strcmp0 (method, "CONNECT") != 0 || g_strcmp0 (protocol, "webtransport") != 0 ||
      path == NULL || path[0] != '/')
    goto answer;
  if (c->session != NULL)
    {
      status = 429; /* one session per connection */
      goto answer;
    }

  session = confab_wt_session_new_internal (c, (guint64) s->id, path);
  status = c->ep->request_func != NULL ? c->ep->request_func (c, session, path, c->ep->request_data)
                                       : 404;
  if (status >= 200 && status < 300)
    {
      c->session = g_steal_pointer (&session);
      c->owns_session = TRUE;
      conn_open_session (c, s->id);
    }
  else
    confab_wt_session_attach_conn (session, NULL);

answer:
  n = confab_h3_write_response (frame, sizeof frame, status);
  stream_queue_copy (c, s, frame, n, !(status >= 200 && status < 300));
  if (c->session != NULL && c->session_id == s->id)
    c->response_end = s->total;
  if (c->session != NULL && c->session_id == s->id)
    confab_wt_session_mark_ready (c->session, status);
  conn_schedule (c);
}

/* Client: the answer to our CONNECT. */
static void
conn_handle_response (ConfabWtConn *c, ConfabWtStream *s, const guint8 *payload, gsize len)
{
  g_autofree ConfabH3HeaderList *headers = g_new (ConfabH3HeaderList, 1);
  const char *status_text;
  guint64 status = 0;

  if (confab_h3_headers_decode (payload, len, headers) &&
      (status_text = confab_h3_headers_get (headers, ":status")) != NULL)
    g_ascii_string_to_unsigned (status_text, 10, 100, 999, &status, NULL);
  if (status == 0)
    {
      conn_protocol_error (c, CONFAB_H3_MESSAGE_ERROR, "bad response headers");
      return;
    }
  c->answered = TRUE;
  confab_wt_session_set_status (c->session, (guint) status);
  if (status >= 200 && status < 300)
    {
      conn_open_session (c, s->id);
      confab_wt_session_mark_ready (c->session, (guint) status);
      while (c->session_open && !g_queue_is_empty (&c->early))
        {
          g_autoptr (GBytes) early = g_queue_pop_head (&c->early);

          confab_wt_session_deliver (c->session, early, FALSE);
        }
      while (c->session_open && !g_queue_is_empty (&c->early_dgrams))
        {
          g_autoptr (GBytes) early = g_queue_pop_head (&c->early_dgrams);

          confab_wt_session_deliver (c->session, early, TRUE);
        }
      return;
    }
  g_clear_error (&c->close_error);
  c->close_error = g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_REFUSED,
                                "server refused the session: HTTP %u", (guint) status);
  conn_request_close (c, CONFAB_H3_NO_ERROR);
}

/* Capsules arrive inside DATA frames on the CONNECT stream. */
static void
conn_handle_capsules (ConfabWtConn *c, ConfabWtStream *s, const guint8 *data, gsize len)
{
  gsize off = 0;

  if (s->capsules == NULL)
    s->capsules = g_byte_array_new ();
  g_byte_array_append (s->capsules, data, (guint) len);
  while (off < s->capsules->len)
    {
      ConfabH3CapsuleHeader ch;
      int n = confab_h3_capsule_header_read (s->capsules->data + off, s->capsules->len - off, &ch);

      if (n <= 0)
        break;
      if (ch.length > 65536)
        {
          conn_protocol_error (c, CONFAB_H3_EXCESSIVE_LOAD, "capsule too large");
          return;
        }
      if (s->capsules->len - off - (gsize) n < ch.length)
        break;
      if (ch.type == CONFAB_WT_CAPSULE_CLOSE_SESSION)
        {
          guint32 code = 0;
          g_autofree char *reason = NULL;

          if (!confab_wt_close_capsule_parse (s->capsules->data + off + n, ch.length, &code,
                                              &reason))
            {
              conn_protocol_error (c, CONFAB_H3_MESSAGE_ERROR, "bad CLOSE_WEBTRANSPORT_SESSION");
              return;
            }
          if (code == 0)
            conn_end_session (c, NULL, code, reason);
          else
            {
              g_autoptr (GError) error =
                  g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_CLOSED,
                               "peer closed the session: %u %s", code, reason);
              conn_end_session (c, error, code, reason);
            }
        }
      else if (ch.type == CONFAB_WT_CAPSULE_DRAIN_SESSION && c->session != NULL)
        confab_wt_session_mark_draining (c->session);
      /* Unknown capsules are skipped. */
      off += (gsize) n + ch.length;
    }
  g_byte_array_remove_range (s->capsules, 0, (guint) off);
}

static gboolean
conn_handle_frame (
    ConfabWtConn *c, ConfabWtStream *s, uint64_t type, const guint8 *payload, gsize len)
{
  if (s->kind == STREAM_CONTROL_IN)
    {
      if (!c->peer_settings.seen && type != CONFAB_H3_FRAME_SETTINGS)
        {
          conn_protocol_error (c, CONFAB_H3_MISSING_SETTINGS, "control stream without SETTINGS");
          return FALSE;
        }
      switch (type)
        {
          case CONFAB_H3_FRAME_SETTINGS:
            if (c->peer_settings.seen)
              {
                conn_protocol_error (c, CONFAB_H3_FRAME_UNEXPECTED, "second SETTINGS");
                return FALSE;
              }
            if (!confab_h3_settings_parse (payload, len, &c->peer_settings))
              {
                conn_protocol_error (c, CONFAB_H3_SETTINGS_ERROR, "bad SETTINGS");
                return FALSE;
              }
            conn_schedule (c); /* the client waits for these before its CONNECT */
            return TRUE;
          case CONFAB_H3_FRAME_GOAWAY:
            /* The peer drains: our one session may finish; nothing new starts. */
            if (c->session != NULL && c->session_open)
              confab_wt_session_mark_draining (c->session);
            return TRUE;
          case CONFAB_H3_FRAME_DATA:
          case CONFAB_H3_FRAME_HEADERS:
            conn_protocol_error (c, CONFAB_H3_FRAME_UNEXPECTED, "DATA/HEADERS on control stream");
            return FALSE;
          default:
            return TRUE;
        }
    }

  /* The request stream. */
  switch (type)
    {
      case CONFAB_H3_FRAME_HEADERS:
        if (s->got_headers)
          return TRUE; /* trailers: nothing for us */
        s->got_headers = TRUE;
        if (c->ep->is_server)
          conn_handle_request (c, s, payload, len);
        else
          conn_handle_response (c, s, payload, len);
        return TRUE;
      case CONFAB_H3_FRAME_DATA:
        if (!s->got_headers)
          {
            conn_protocol_error (c, CONFAB_H3_FRAME_UNEXPECTED, "DATA before HEADERS");
            return FALSE;
          }
        conn_handle_capsules (c, s, payload, len);
        return TRUE;
      case CONFAB_H3_FRAME_SETTINGS:
      case CONFAB_H3_FRAME_GOAWAY:
        conn_protocol_error (c, CONFAB_H3_FRAME_UNEXPECTED, "control frame on request stream");
        return FALSE;
      default:
        return TRUE;
    }
}

static uint64_t
frame_limit (uint64_t type)
{
  switch (type)
    {
      case CONFAB_H3_FRAME_HEADERS:
        return CONFAB_H3_MAX_HEADERS_SIZE;
      case CONFAB_H3_FRAME_SETTINGS:
        return 4096;
      case CONFAB_H3_FRAME_GOAWAY:
        return 8;
      case CONFAB_H3_FRAME_DATA:
        return 65536;
      default:
        return 0; /* skipped, never buffered */
    }
}

static gboolean
is_known_frame (uint64_t type)
{
  return type == CONFAB_H3_FRAME_HEADERS || type == CONFAB_H3_FRAME_SETTINGS ||
         type == CONFAB_H3_FRAME_GOAWAY || type == CONFAB_H3_FRAME_DATA;
}

static void
stream_parse_frames (ConfabWtConn *c, ConfabWtStream *s)
{
  gsize off = 0;

  while (off < s->in->len && !c->close_requested)
    {
      ConfabH3FrameHeader fh;
      int n;

      if (s->skip > 0)
        {
          gsize take = MIN (s->skip, (uint64_t) (s->in->len - off));

          off += take;
          s->skip -= take;
          continue;
        }
      n = confab_h3_frame_header_read (s->in->data + off, s->in->len - off, &fh);
      if (n <= 0)
        break;
      if (!is_known_frame (fh.type))
        {
          off += (gsize) n;
          s->skip = fh.length;
          continue;
        }
      if (fh.length > frame_limit (fh.type))
        {
          conn_protocol_error (c, CONFAB_H3_EXCESSIVE_LOAD, "frame too large");
          break;
        }
      if (s->in->len - off - (gsize) n < fh.length)
        break;
      if (!conn_handle_frame (c, s, fh.type, s->in->data + off + n, fh.length))
        break;
      off += (gsize) n + fh.length;
    }
  g_byte_array_remove_range (s->in, 0, (guint) MIN (off, s->in->len));
}

static void
stream_deliver (ConfabWtConn *c, ConfabWtStream *s)
{
  GBytes *message = g_byte_array_free_to_bytes (g_steal_pointer (&s->payload));

  c->buffered -= s->held;
  s->held = 0;
  s->kind = STREAM_DISCARD;
  if (c->session != NULL && c->session_open)
    confab_wt_session_deliver (c->session, message, FALSE);
  else if (!c->ep->is_server && !c->answered && c->early.length < 64)
    g_queue_push_tail (&c->early, g_bytes_ref (message));
  g_bytes_unref (message);
  /* A bidirectional stream ends both ways: answer the FIN with ours. */
  if (s->bidi_wt)
    stream_queue (c, s, NULL, TRUE);
}

static void
stream_drop_payload (ConfabWtConn *c, ConfabWtStream *s)
{
  g_clear_pointer (&s->payload, g_byte_array_unref);
  c->buffered -= s->held;
  s->held = 0;
}

/* Moves a stream through its header stages; parses frames where it has them. */
static void
stream_process (ConfabWtConn *c, ConfabWtStream *s)
{
  for (;;)
    {
      uint64_t v = 0;
      int n;

      switch (s->kind)
        {
          case STREAM_NEW:
            n = confab_h3_varint_read (s->in->data, s->in->len, &v);
            if (n <= 0)
              return;
            if (s->id & 0x2)
              {
                /* Unidirectional: the varint is the stream type. */
                g_byte_array_remove_range (s->in, 0, (guint) n);
                if (v == CONFAB_H3_STREAM_CONTROL)
                  {
                    if (c->peer_control_seen)
                      {
                        conn_protocol_error (c, CONFAB_H3_STREAM_CREATION_ERROR,
                                             "second control stream");
                        return;
                      }
                    c->peer_control_seen = TRUE;
                    s->kind = STREAM_CONTROL_IN;
                  }
                else if (v == CONFAB_H3_STREAM_WT_UNI)
                  s->kind = STREAM_WT_SID;
                else
                  {
                    if (v != CONFAB_H3_STREAM_QPACK_ENCODER && v != CONFAB_H3_STREAM_QPACK_DECODER)
                      confab_conn_shutdown_stream_read (c->conn, s->id,
                                                        CONFAB_H3_STREAM_CREATION_ERROR);
                    s->kind = STREAM_DISCARD;
                  }
              }
            else if (v == CONFAB_H3_FRAME_WT_STREAM)
              {
                g_byte_array_remove_range (s->in, 0, (guint) n);
                s->bidi_wt = TRUE;
                s->kind = STREAM_WT_SID;
              }
            else if (c->ep->is_server)
              s->kind = STREAM_REQUEST;
            else
              {
                /* Servers open no request streams towards clients. */
                confab_conn_shutdown_stream (c->conn, s->id, CONFAB_H3_STREAM_CREATION_ERROR);
                s->kind = STREAM_DISCARD;
              }
            break;

          case STREAM_WT_SID:
            n = confab_h3_varint_read (s->in->data, s->in->len, &v);
            if (n <= 0)
              return;
            g_byte_array_remove_range (s->in, 0, (guint) n);
            /* A client may see the server's first streams before the answer
             * to its CONNECT (they travel independently): keep those. */
            if (v != (uint64_t) c->session_id ||
                !(c->session_open || (!c->ep->is_server && !c->answered)))
              {
                confab_conn_shutdown_stream (c->conn, s->id, CONFAB_WT_SESSION_GONE);
                s->kind = STREAM_DISCARD;
                break;
              }
            s->kind = STREAM_WT_IN;
            s->payload = g_byte_array_new ();
            if (s->in->len > 0)
              {
                g_byte_array_append (s->payload, s->in->data, s->in->len);
                s->held += s->in->len;
                c->buffered += s->in->len;
                g_byte_array_set_size (s->in, 0);
              }
            return;

          case STREAM_CONTROL_IN:
          case STREAM_REQUEST:
            stream_parse_frames (c, s);
            return;

          case STREAM_DISCARD:
          case STREAM_WT_IN:
          case STREAM_LOCAL:
          default:
            g_byte_array_set_size (s->in, 0);
            return;
        }
    }
}

/* ---- ngtcp2 callbacks ---------------------------------------------------- */

static int
on_recv_stream_data (ngtcp2_conn *conn,
                     uint32_t flags,
                     int64_t stream_id,
                     uint64_t offset,
                     const uint8_t *data,
                     size_t datalen,
                     void *user_data,
                     void *stream_user_data)
{
  ConfabWtConn *c = user_data;
  ConfabWtStream *s = conn_stream (c, stream_id);
  gboolean fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;

  /* Credit goes back at once, for the stream and the connection: bytes are
   * consumed into our buffers right here. Withholding connection credit
   * until whole messages arrive would deadlock once interleaved partial
   * messages fill the window; instead the per-message size and the
   * per-connection total of partial messages are capped below, and the
   * stream that would cross a cap is refused (STOP_SENDING). */
  ngtcp2_conn_extend_max_stream_offset (conn, stream_id, datalen);
  ngtcp2_conn_extend_max_offset (conn, datalen);

  if (s == NULL)
    {
      if (ngtcp2_conn_is_local_stream (conn, stream_id))
        return 0;
      s = stream_new (stream_id, STREAM_NEW);
      conn_add_stream (c, s);
    }

  if (s->kind == STREAM_WT_IN)
    {
      if (s->payload->len + datalen > CONFAB_WT_MAX_MESSAGE_SIZE ||
          c->buffered + datalen > CONFAB_WT_MAX_BUFFERED_BYTES)
        {
          confab_conn_shutdown_stream_read (conn, stream_id, CONFAB_H3_EXCESSIVE_LOAD);
          stream_drop_payload (c, s);
          s->kind = STREAM_DISCARD;
          return 0;
        }
      g_byte_array_append (s->payload, data, (guint) datalen);
      s->held += datalen;
      c->buffered += datalen;
    }
  else
    {
      if (s->kind != STREAM_DISCARD && s->kind != STREAM_LOCAL)
        {
          if (s->in == NULL)
            s->in = g_byte_array_new ();
          g_byte_array_append (s->in, data, (guint) datalen);
          stream_process (c, s);
          /* Bytes that survive parsing wait for a frame we allow: bounded. */
          if (s->in->len > CONFAB_H3_MAX_HEADERS_SIZE + 65536 + 64)
            conn_protocol_error (c, CONFAB_H3_EXCESSIVE_LOAD, "stream buffer overflow");
        }
    }

  if (fin)
    {
      if (s->kind == STREAM_WT_IN)
        stream_deliver (c, s);
      else if (s->kind == STREAM_CONTROL_IN)
        conn_protocol_error (c, CONFAB_H3_CLOSED_CRITICAL_STREAM, "control stream closed");
      else if (stream_id == c->session_id)
        conn_end_session (c, NULL, 0, ""); /* only our CONNECT stream ends the session */

      if (CONFAB_NGTCP2_LEAKS_REMOTE_UNI && (stream_id & 0x2) &&
          !ngtcp2_conn_is_local_stream (conn, stream_id))
        {
          /* See confab-quic-compat.h: ngtcp2 will not close it for us. */
          ngtcp2_conn_extend_max_streams_uni (conn, 1);
          if (s->held > 0)
            stream_drop_payload (c, s);
          g_hash_table_remove (c->streams, &stream_id);
        }
    }
  return 0;
}

static int
on_stream_close (ngtcp2_conn *conn,
                 uint32_t flags,
                 int64_t stream_id,
                 uint64_t app_error_code,
                 void *user_data,
                 void *stream_user_data)
{
  ConfabWtConn *c = user_data;
  ConfabWtStream *s = conn_stream (c, stream_id);

  if (!ngtcp2_conn_is_local_stream (conn, stream_id))
    {
      if (stream_id & 0x2)
        {
          if (!CONFAB_NGTCP2_LEAKS_REMOTE_UNI)
            ngtcp2_conn_extend_max_streams_uni (conn, 1);
        }
      else
        ngtcp2_conn_extend_max_streams_bidi (conn, 1);
    }
  if (stream_id == c->session_id)
    {
      conn_end_session (c, NULL, 0, "");
      conn_request_close (c, CONFAB_H3_NO_ERROR);
    }
  if (s == NULL)
    return 0;
  if (s->held > 0)
    stream_drop_payload (c, s);
  stream_unqueue (c, s);
  if (s->counted)
    {
      c->queued_streams--;
      c->queued_bytes -= s->total;
    }
  g_hash_table_remove (c->streams, &stream_id);
  return 0;
}

static int
on_stream_reset (ngtcp2_conn *conn,
                 int64_t stream_id,
                 uint64_t final_size,
                 uint64_t app_error_code,
                 void *user_data,
                 void *stream_user_data)
{
  ConfabWtConn *c = user_data;
  ConfabWtStream *s = conn_stream (c, stream_id);

  if (s != NULL && s->kind == STREAM_WT_IN)
    {
      stream_drop_payload (c, s);
      s->kind = STREAM_DISCARD;
    }
  return 0;
}

static int
on_extend_max_stream_data (ngtcp2_conn *conn,
                           int64_t stream_id,
                           uint64_t max_data,
                           void *user_data,
                           void *stream_user_data)
{
  ConfabWtConn *c = user_data;
  ConfabWtStream *s = conn_stream (c, stream_id);

  if (s != NULL && s->blocked)
    {
      s->blocked = FALSE;
      if (s->send_link == NULL)
        stream_enqueue (c, s);
    }
  return 0;
}

static int
on_recv_datagram (
    ngtcp2_conn *conn, uint32_t flags, const uint8_t *data, size_t datalen, void *user_data)
{
  ConfabWtConn *c = user_data;
  uint64_t sid = 0;
  int n = confab_wt_datagram_prefix_read (data, datalen, &sid);
  g_autoptr (GBytes) message = NULL;

  if (n <= 0 || sid != (uint64_t) c->session_id || c->session_id < 0)
    return 0;
  if (!c->session_open)
    {
      /* Client: the server's first datagrams may arrive before its answer
       * to our CONNECT (loss, reordering): keep a few. */
      if (!c->ep->is_server && !c->answered && c->early_dgrams.length < 64)
        g_queue_push_tail (&c->early_dgrams, g_bytes_new (data + n, datalen - (size_t) n));
      return 0;
    }
  message = g_bytes_new (data + n, datalen - (size_t) n);
  confab_wt_session_deliver (c->session, message, TRUE);
  return 0;
}

static void
on_rand (uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *rand_ctx)
{
  gnutls_rnd (GNUTLS_RND_RANDOM, dest, destlen);
}

static int
on_get_new_connection_id (
    ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *user_data)
{
  ConfabWtConn *c = user_data;

  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cidlen) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  cid->datalen = cidlen;
  if (ngtcp2_crypto_generate_stateless_reset_token (token, c->ep->reset_secret,
                                                    sizeof c->ep->reset_secret, cid) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;
  confab_wt_endpoint_add_cid (c->ep, cid->data, cid->datalen, c);
  return 0;
}

static int
on_remove_connection_id (ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
  ConfabWtConn *c = user_data;

  confab_wt_endpoint_remove_cid (c->ep, cid->data, cid->datalen);
  return 0;
}

static int
on_handshake_completed (ngtcp2_conn *conn, void *user_data)
{
  conn_schedule (user_data);
  return 0;
}

static ngtcp2_conn *
get_conn (ngtcp2_crypto_conn_ref *ref)
{
  ConfabWtConn *c = ref->user_data;

  return c->conn;
}

static void
fill_callbacks (ngtcp2_callbacks *cb, gboolean is_server)
{
  memset (cb, 0, sizeof *cb);
  if (is_server)
    cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  else
    {
      cb->client_initial = ngtcp2_crypto_client_initial_cb;
      cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
  cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb->encrypt = ngtcp2_crypto_encrypt_cb;
  cb->decrypt = ngtcp2_crypto_decrypt_cb;
  cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb->update_key = ngtcp2_crypto_update_key_cb;
  cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb->recv_stream_data = on_recv_stream_data;
  cb->stream_close = on_stream_close;
  cb->stream_reset = on_stream_reset;
  cb->extend_max_stream_data = on_extend_max_stream_data;
  cb->recv_datagram = on_recv_datagram;
  cb->rand = on_rand;
  cb->get_new_connection_id = on_get_new_connection_id;
  cb->remove_connection_id = on_remove_connection_id;
  cb->handshake_completed = on_handshake_completed;
}

/* ---- writing --------------------------------------------------------------- */

static void
conn_send_packet (ConfabWtConn *c, const guint8 *data, gsize len)
{
  confab_wt_endpoint_send (c->ep, (const struct sockaddr *) &c->remote, c->remote_len, data, len);
}

/* The packet ngtcp2 just wrote into confab_wt_endpoint_tx_reserve ()'s room. */
static void
conn_commit_packet (ConfabWtConn *c, gsize len)
{
  confab_wt_endpoint_tx_commit (c->ep, (const struct sockaddr *) &c->remote, c->remote_len, len);
}

static void
conn_write_close (ConfabWtConn *c, const ConfabCcerr *ccerr)
{
  guint8 buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  ngtcp2_path_storage ps;
  ngtcp2_pkt_info pi;
  ngtcp2_ssize n;

  if (confab_conn_in_closing_period (c->conn) || confab_conn_in_draining_period (c->conn))
    return;
  ngtcp2_path_storage_zero (&ps);
  n = ngtcp2_conn_write_connection_close (c->conn, &ps.path, &pi, buf, sizeof buf, ccerr,
                                          confab_quic_now ());
  if (n > 0)
    conn_send_packet (c, buf, (gsize) n);
}

static void
conn_close_with (ConfabWtConn *c, const ConfabCcerr *ccerr, GError *error)
{
  conn_write_close (c, ccerr);
  conn_mark_dead (c, error);
}

static void
conn_close_liberr (ConfabWtConn *c, int liberr)
{
  ConfabCcerr ccerr;
  GError *error;

  confab_ccerr_default (&ccerr);
  if (liberr == NGTCP2_ERR_CRYPTO)
    confab_ccerr_set_tls_alert (&ccerr, ngtcp2_conn_get_tls_alert (c->conn), NULL, 0);
  else
    confab_ccerr_set_liberr (&ccerr, liberr, NULL, 0);
  if (c->cert_failed)
    error =
        g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_CERTIFICATE, "server certificate rejected");
  else if (liberr == NGTCP2_ERR_HANDSHAKE_TIMEOUT)
    error = g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_TIMEOUT, "QUIC handshake timed out");
  else
    error = g_error_new (CONFAB_WT_ERROR,
                         ngtcp2_conn_get_handshake_completed (c->conn) ? CONFAB_WT_ERROR_PROTOCOL
                                                                       : CONFAB_WT_ERROR_CONNECT,
                         "QUIC: %s", ngtcp2_strerror (liberr));
  conn_close_with (c, &ccerr, error);
}

/* Opens our control stream (and the client's CONNECT) once ngtcp2 lets us. */
static void
conn_setup_h3 (ConfabWtConn *c)
{
  if (!c->h3_ready && ngtcp2_conn_get_handshake_completed (c->conn))
    {
      int64_t id;
      guint8 buf[80];
      gsize n;

      if (ngtcp2_conn_open_uni_stream (c->conn, &id, NULL) != 0)
        return;
      ConfabWtStream *s = stream_new (id, STREAM_LOCAL);
      conn_add_stream (c, s);
      buf[0] = CONFAB_H3_STREAM_CONTROL;
      n = 1 + confab_h3_settings_write (buf + 1, sizeof buf - 1);
      stream_queue_copy (c, s, buf, n, FALSE);
      c->control_id = id;
      c->h3_ready = TRUE;
      if (c->drain_wanted)
        confab_wt_conn_drain_session (c);
    }

  if (!c->ep->is_server && c->h3_ready && !c->connect_sent && c->peer_settings.seen)
    {
      g_autofree guint8 *buf = g_malloc (CONFAB_H3_MAX_HEADERS_SIZE + 16);
      int64_t id;
      gsize n;

      c->connect_sent = TRUE;
      if (!c->peer_settings.enable_connect_protocol || !c->peer_settings.h3_datagram)
        {
          c->close_error = g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_PROTOCOL,
                                        "server does not offer WebTransport");
          conn_request_close (c, CONFAB_H3_NO_ERROR);
          return;
        }
      if (ngtcp2_conn_open_bidi_stream (c->conn, &id, NULL) != 0)
        {
          conn_protocol_error (c, CONFAB_H3_INTERNAL_ERROR, "no bidi stream for CONNECT");
          return;
        }
      ConfabWtStream *s = stream_new (id, STREAM_REQUEST);
      conn_add_stream (c, s);
      n = confab_h3_write_connect (buf, CONFAB_H3_MAX_HEADERS_SIZE + 16, c->authority, c->path);
      stream_queue_copy (c, s, buf, n, FALSE);
      c->session_id = id; /* known now; open once the answer comes */
    }
}

static void
conn_open_pending (ConfabWtConn *c)
{
  while (!g_queue_is_empty (&c->pending_open))
    {
      ConfabWtStream *s = g_queue_peek_head (&c->pending_open);
      int64_t id;

      if (ngtcp2_conn_open_uni_stream (c->conn, &id, NULL) != 0)
        return; /* stream limit: ngtcp2 tells us when the peer raises it */
      g_queue_pop_head (&c->pending_open);
      s->id = id;
      conn_add_stream (c, s);
      stream_enqueue (c, s);
    }
}

#define CONFAB_QUIC_BURST 64

/* Returns FALSE when the connection died. */
static gboolean
conn_write (ConfabWtConn *c)
{
  /* The most we ever send, not the current path's maximum: ngtcp2 itself
   * keeps ordinary packets within the path's size, and a Path MTU Discovery
   * probe only goes out when the buffer can hold it (with the path's 1200
   * here, PMTUD never raised loopback above 1200). */
  size_t max_udp = MIN (ngtcp2_conn_get_max_tx_udp_payload_size (c->conn), CONFAB_WT_TX_SLOT);
  ngtcp2_tstamp ts = confab_quic_now ();
  guint packets = 0;

  c->defer_until = 0;
  c->rx_since_write = 0;
  conn_setup_h3 (c);
  conn_open_pending (c);

  while (packets < CONFAB_QUIC_BURST)
    {
      ngtcp2_path_storage ps;
      ngtcp2_pkt_info pi;
      ngtcp2_ssize n, ndatalen = -1;
      /* Straight into the endpoint's send batch: no copy. The same buffer
       * until a packet is committed, as WRITE_MORE requires. */
      guint8 *buf = confab_wt_endpoint_tx_reserve (c->ep);

      ngtcp2_path_storage_zero (&ps);

      if (!g_queue_is_empty (&c->datagrams) && c->session_open &&
          (!c->ep->is_server || c->response_written))
        {
          GBytes *dg = g_queue_peek_head (&c->datagrams);
          ngtcp2_vec vec[2];
          int accepted = 0;
          gsize size;

          vec[0].base = c->dgram_prefix;
          vec[0].len = c->dgram_prefix_len;
          vec[1].base = (uint8_t *) g_bytes_get_data (dg, &size);
          vec[1].len = size;
          n = ngtcp2_conn_writev_datagram (c->conn, &ps.path, &pi, buf, max_udp, &accepted,
                                           NGTCP2_WRITE_DATAGRAM_FLAG_NONE, 0, vec, 2, ts);
          if (n < 0)
            {
              if (ngtcp2_err_is_fatal ((int) n))
                {
                  conn_close_liberr (c, (int) n);
                  return FALSE;
                }
              /* Too large for this path, or the peer takes none: drop it. */
              g_bytes_unref (g_queue_pop_head (&c->datagrams));
              confab_wt_session_stats (c->session)->datagrams_dropped++;
              continue;
            }
          if (accepted)
            {
              g_bytes_unref (g_queue_pop_head (&c->datagrams));
              confab_wt_session_stats (c->session)->datagrams_sent++;
            }
          if (n == 0)
            break; /* congestion limited */
          conn_commit_packet (c, (gsize) n);
          packets++;
          continue;
        }

      ConfabWtStream *s = !g_queue_is_empty (&c->send_urgent) ? g_queue_peek_head (&c->send_urgent)
                                                              : g_queue_peek_head (&c->send_queue);
      ngtcp2_vec vec[8];
      size_t nvec = 0;
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      int64_t stream_id = -1;

      if (s != NULL)
        {
          nvec = stream_vecs (s, vec, G_N_ELEMENTS (vec));
          stream_id = s->id;
          if (s->fin)
            flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
        }
      n = ngtcp2_conn_writev_stream (c->conn, &ps.path, &pi, buf, max_udp, &ndatalen, flags,
                                     stream_id, vec, nvec, ts);
      if (n < 0)
        {
          switch (n)
            {
              case NGTCP2_ERR_STREAM_DATA_BLOCKED:
                s->blocked = TRUE;
                stream_unqueue (c, s);
                continue;
              case NGTCP2_ERR_STREAM_SHUT_WR:
              case NGTCP2_ERR_STREAM_NOT_FOUND:
                stream_unqueue (c, s);
                continue;
              case NGTCP2_ERR_WRITE_MORE:
                break;
              default:
                conn_close_liberr (c, (int) n);
                return FALSE;
            }
        }
      if (s != NULL && ndatalen >= 0)
        {
          stream_advance (s, (gsize) ndatalen);
          if (s->id == c->session_id && s->sent >= c->response_end)
            c->response_written = TRUE;
          if (s->sent == s->total)
            {
              s->fin_sent = s->fin;
              stream_unqueue (c, s);
            }
        }
      if (n == NGTCP2_ERR_WRITE_MORE)
        continue;
      if (n == 0)
        break;
      conn_commit_packet (c, (gsize) n);
      packets++;
    }
  ngtcp2_conn_update_pkt_tx_time (c->conn, ts);
  /* A full burst means more is waiting: come back in the next pass, after
   * the other connections and sources ran. */
  if (packets >= CONFAB_QUIC_BURST)
    conn_schedule (c);
  return TRUE;
}

static void
conn_rearm (ConfabWtConn *c)
{
  guint64 expiry = ngtcp2_conn_get_expiry (c->conn);

  if (c->close_deadline != 0 && c->close_deadline < expiry)
    expiry = c->close_deadline;
  confab_wt_endpoint_set_timer (c->ep, c, expiry);
}

void
confab_wt_conn_flush (ConfabWtConn *c)
{
  if (c->dead)
    return;
  if (c->close_requested)
    {
      ConfabCcerr ccerr;

      confab_ccerr_default (&ccerr);
      confab_ccerr_set_application_error (&ccerr, c->close_app_code, NULL, 0);
      conn_close_with (c, &ccerr, NULL);
      return;
    }
  if (!conn_write (c))
    return;
  conn_rearm (c);
}

static void
conn_schedule (ConfabWtConn *c)
{
  if (!c->dead)
    confab_wt_endpoint_wake (c->ep, c);
}

/* ---- lifetime -------------------------------------------------------------- */

static void
conn_mark_dead (ConfabWtConn *c, GError *error)
{
  if (error != NULL && c->close_error == NULL)
    c->close_error = error;
  else if (error != NULL)
    g_error_free (error);
  c->dead = TRUE;
  /* The endpoint's next pass destroys it (and says "closed"). */
  confab_wt_endpoint_wake (c->ep, c);
}

void
confab_wt_conn_peer_unreachable (ConfabWtConn *c)
{
  gboolean established;

  if (c->dead)
    return;
  established = ngtcp2_conn_get_handshake_completed (c->conn);
  conn_mark_dead (c, g_error_new (CONFAB_WT_ERROR,
                                  established ? CONFAB_WT_ERROR_CLOSED : CONFAB_WT_ERROR_CONNECT,
                                  established ? "server went away (UDP port unreachable)"
                                              : "connection refused: nothing listens on the "
                                                "server's UDP port"));
}

gboolean
confab_wt_conn_is_dead (ConfabWtConn *c)
{
  return c->dead;
}

static void
conn_destroy (ConfabWtConn *c, gboolean notify)
{
  ConfabWtEndpoint *ep = c->ep;
  g_autoptr (ConfabWtSession) client_session = NULL;

  if (notify && c->session != NULL)
    {
      g_autoptr (GError) error =
          c->close_error != NULL
              ? g_error_copy (c->close_error)
              : g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_CLOSED, "connection closed");
      /* Client: keep the session alive while "closed" runs its handlers. */
      if (!c->owns_session)
        client_session = g_object_ref (c->session);
      c->session_open = FALSE;
      confab_wt_session_finish (c->session, error, 0, NULL);
    }
  ep->conns = g_list_remove (ep->conns, c);
  ep->n_conns--;
  confab_wt_conn_free (c);
}

/* Client, established, nothing queued of its own: what a write would send
 * now is ACKs (and the odd MAX_STREAMS); it may wait a little. */
static gboolean
conn_defer_write (ConfabWtConn *c, guint64 now)
{
  if (c->ep->is_server || c->dead || c->close_requested || !c->session_open ||
      !ngtcp2_conn_get_handshake_completed (c->conn) || !g_queue_is_empty (&c->send_queue) ||
      !g_queue_is_empty (&c->send_urgent) || !g_queue_is_empty (&c->pending_open) ||
      !g_queue_is_empty (&c->datagrams) || c->rx_since_write >= CONFAB_WT_CLIENT_ACK_DEFER_PACKETS)
    return FALSE;
  if (c->defer_until == 0)
    c->defer_until = now + CONFAB_WT_CLIENT_ACK_DEFER_NS;
  return now < c->defer_until;
}

void
confab_wt_conn_run (ConfabWtConn *c)
{
  ngtcp2_tstamp now = confab_quic_now ();

  if (!c->dead && now >= ngtcp2_conn_get_expiry (c->conn))
    {
      int rv = ngtcp2_conn_handle_expiry (c->conn, now);

      if (rv == NGTCP2_ERR_IDLE_CLOSE)
        conn_mark_dead (
            c, g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_TIMEOUT, "QUIC idle timeout"));
      else if (rv != 0)
        conn_close_liberr (c, rv);
    }
  if (!c->dead && c->close_deadline != 0 && now >= c->close_deadline)
    conn_request_close (c, CONFAB_H3_NO_ERROR);
  if (conn_defer_write (c, now))
    {
      confab_wt_endpoint_set_timer (c->ep, c, c->defer_until);
      return;
    }
  if (!c->dead)
    confab_wt_conn_flush (c);
  if (c->dead)
    conn_destroy (c, TRUE);
}

static ConfabWtConn *
conn_alloc (ConfabWtEndpoint *ep, const struct sockaddr *remote, socklen_t remote_len)
{
  ConfabWtConn *c = g_new0 (ConfabWtConn, 1);

  c->ep = ep;
  memcpy (&c->remote, remote, MIN (remote_len, sizeof c->remote));
  c->remote_len = remote_len;
  c->streams =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) stream_free);
  g_queue_init (&c->send_queue);
  g_queue_init (&c->send_urgent);
  g_queue_init (&c->pending_open);
  g_queue_init (&c->datagrams);
  c->session_id = -1;
  c->conn_ref.get_conn = get_conn;
  c->conn_ref.user_data = c;
  c->sched.link.data = c;
  c->sched.heap_index = CONFAB_WT_NO_TIMER;
  ep->conns = g_list_prepend (ep->conns, c);
  ep->n_conns++;
  return c;
}

static void
debug_printf (void *user_data, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
}

static void
fill_settings (ConfabWtConn *c, ngtcp2_settings *settings, ngtcp2_transport_params *params)
{
  const ConfabWtConnConfig *cfg = &c->ep->config;

  ngtcp2_settings_default (settings);
  settings->initial_ts = confab_quic_now ();
  settings->handshake_timeout =
      (cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : 5000) * NGTCP2_MILLISECONDS;
  if (g_getenv ("CONFAB_QUIC_DEBUG") != NULL)
    settings->log_printf = debug_printf;
  /* A server ACKs every packet at once: the ACK then leaves in the write
   * pass that the packet's arrival runs anyway (a relay fans the message out
   * in it), instead of from a timer a fraction of an RTT later, i.e. one more
   * wake-up and send per received packet. The number of ACKs is the same,
   * as a sender's packets arrive further apart than the delay. */
  if (c->ep->is_server)
    settings->ack_thresh = 1;

  ngtcp2_transport_params_default (params);
  params->initial_max_stream_data_bidi_local = 1024 * 1024;
  params->initial_max_stream_data_bidi_remote = 1024 * 1024;
  params->initial_max_stream_data_uni = 1024 * 1024;
  /* Credit is returned as bytes arrive; what bounds our memory is the cap on
   * partial messages (CONFAB_WT_MAX_BUFFERED_BYTES). This window only sets
   * how much may be in flight. */
  params->initial_max_data = 16 * 1024 * 1024;
  params->initial_max_streams_bidi = 100;
  /* Chromium fails createUnidirectionalStream() at once when it has no
   * stream credit (it does not wait), and peers open one stream per media
   * packet: be generous. Memory stays bounded by the partial-message cap. */
  params->initial_max_streams_uni = 1000;
  params->max_idle_timeout =
      (cfg->idle_timeout_ms ? cfg->idle_timeout_ms : 30000) * NGTCP2_MILLISECONDS;
  params->max_datagram_frame_size = 65535;
  params->active_connection_id_limit = 7;
}

static gboolean
conn_tls_init (ConfabWtConn *c, GError **error)
{
  static const gnutls_datum_t alpn = { (unsigned char *) "h3", 2 };
  unsigned flags = (c->ep->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_ENABLE_EARLY_DATA |
                   GNUTLS_NO_END_OF_EARLY_DATA;
  int rv;

  if ((rv = gnutls_init (&c->tls, flags)) != 0 ||
      (rv = gnutls_priority_set_direct (c->tls, confab_quic_tls_priority, NULL)) != 0 ||
      (rv = c->ep->is_server ? ngtcp2_crypto_gnutls_configure_server_session (c->tls)
                             : ngtcp2_crypto_gnutls_configure_client_session (c->tls)) != 0 ||
      (rv = gnutls_credentials_set (c->tls, GNUTLS_CRD_CERTIFICATE, c->ep->cred)) != 0 ||
      (rv = gnutls_alpn_set_protocols (c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY)) != 0)
    {
      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CONNECT, "TLS setup: %s",
                   rv < 0 ? gnutls_strerror (rv) : "ngtcp2 crypto");
      return FALSE;
    }
  gnutls_session_set_ptr (c->tls, &c->conn_ref);
  return TRUE;
}

ConfabWtConn *
confab_wt_conn_new_server (ConfabWtEndpoint *ep,
                           const ngtcp2_pkt_hd *hd,
                           const struct sockaddr *remote,
                           socklen_t remote_len,
                           GError **error)
{
  ConfabWtConn *c = conn_alloc (ep, remote, remote_len);
  ngtcp2_callbacks cb;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  ngtcp2_path path = {
    { (ngtcp2_sockaddr *) &ep->local, ep->local_len },
    { (ngtcp2_sockaddr *) &c->remote, c->remote_len },
    NULL,
  };
  int rv;

  fill_callbacks (&cb, TRUE);
  fill_settings (c, &settings, &params);
  confab_params_set_original_dcid (&params, &hd->dcid);
  params.disable_active_migration = 1;
  scid.datalen = CONFAB_QUIC_SCID_LEN;
  gnutls_rnd (GNUTLS_RND_RANDOM, scid.data, scid.datalen);
  params.stateless_reset_token_present = 1;
  ngtcp2_crypto_generate_stateless_reset_token (params.stateless_reset_token, ep->reset_secret,
                                                sizeof ep->reset_secret, &scid);

  rv = ngtcp2_conn_server_new (&c->conn, &hd->scid, &scid, &path, hd->version, &cb, &settings,
                               &params, NULL, c);
  if (rv != 0)
    {
      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CONNECT, "ngtcp2: %s",
                   ngtcp2_strerror (rv));
      conn_destroy (c, FALSE);
      return NULL;
    }
  if (!conn_tls_init (c, error))
    {
      conn_destroy (c, FALSE);
      return NULL;
    }
  ngtcp2_conn_set_tls_native_handle (c->conn, c->tls);
  confab_wt_endpoint_add_cid (ep, scid.data, scid.datalen, c);
  /* Retransmitted Initials still carry the client's original DCID. */
  confab_wt_endpoint_add_cid (ep, hd->dcid.data, hd->dcid.datalen, c);
  return c;
}

static int
client_verify (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr (session);
  ConfabWtConn *c = ref->user_data;
  const gnutls_datum_t *certs;
  unsigned n_certs = 0;

  if (c->insecure)
    return 0;
  certs = gnutls_certificate_get_peers (session, &n_certs);
  if (certs == NULL || n_certs == 0)
    goto fail;
  if (c->have_pin)
    {
      guint8 hash[32];

      if (gnutls_hash_fast (GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, hash) != 0 ||
          memcmp (hash, c->pin, sizeof hash) != 0)
        goto fail;
      return 0;
    }
  else
    {
      unsigned status = 0;

      if (gnutls_certificate_verify_peers3 (session, c->host, &status) != 0 || status != 0)
        goto fail;
      return 0;
    }

fail:
  c->cert_failed = TRUE;
  return GNUTLS_E_CERTIFICATE_ERROR;
}

ConfabWtConn *
confab_wt_conn_new_client (ConfabWtEndpoint *ep,
                           const struct sockaddr *remote,
                           socklen_t remote_len,
                           const char *host,
                           const char *authority,
                           const char *path_str,
                           const guint8 *pin,
                           gboolean insecure,
                           ConfabWtSession *session,
                           GError **error)
{
  ConfabWtConn *c = conn_alloc (ep, remote, remote_len);
  ngtcp2_callbacks cb;
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid, dcid;
  ngtcp2_path path = {
    { (ngtcp2_sockaddr *) &ep->local, ep->local_len },
    { (ngtcp2_sockaddr *) &c->remote, c->remote_len },
    NULL,
  };
  int rv;

  c->host = g_strdup (host);
  c->authority = g_strdup (authority);
  c->path = g_strdup (path_str);
  c->insecure = insecure;
  if (pin != NULL)
    {
      memcpy (c->pin, pin, sizeof c->pin);
      c->have_pin = TRUE;
    }
  c->session = session;
  c->owns_session = FALSE;

  fill_callbacks (&cb, FALSE);
  fill_settings (c, &settings, &params);
  params.initial_max_streams_bidi = 16;
  scid.datalen = CONFAB_QUIC_SCID_LEN;
  gnutls_rnd (GNUTLS_RND_RANDOM, scid.data, scid.datalen);
  dcid.datalen = CONFAB_QUIC_SCID_LEN;
  gnutls_rnd (GNUTLS_RND_RANDOM, dcid.data, dcid.datalen);

  rv = ngtcp2_conn_client_new (&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &settings,
                               &params, NULL, c);
  if (rv != 0)
    {
      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CONNECT, "ngtcp2: %s",
                   ngtcp2_strerror (rv));
      c->session = NULL;
      conn_destroy (c, FALSE);
      return NULL;
    }
  if (!conn_tls_init (c, error))
    {
      c->session = NULL;
      conn_destroy (c, FALSE);
      return NULL;
    }
  if (host != NULL && !g_hostname_is_ip_address (host))
    gnutls_server_name_set (c->tls, GNUTLS_NAME_DNS, host, strlen (host));
  gnutls_session_set_verify_function (c->tls, client_verify);
  ngtcp2_conn_set_tls_native_handle (c->conn, c->tls);
  if (ep->config.keep_alive_ms > 0)
    ngtcp2_conn_set_keep_alive_timeout (c->conn, ep->config.keep_alive_ms * NGTCP2_MILLISECONDS);
  conn_schedule (c); /* the first flight goes out in the endpoint's next pass */
  return c;
}

void
confab_wt_conn_read (ConfabWtConn *c,
                     const struct sockaddr *remote,
                     socklen_t remote_len,
                     const guint8 *data,
                     gsize len)
{
  ngtcp2_path path = {
    { (ngtcp2_sockaddr *) &c->ep->local, c->ep->local_len },
    { (ngtcp2_sockaddr *) remote, remote_len },
    NULL,
  };
  ngtcp2_pkt_info pi = { 0 };
  int rv;

  if (c->dead)
    return;
  c->rx_since_write++;
  rv = ngtcp2_conn_read_pkt (c->conn, &path, &pi, data, len, confab_quic_now ());
  if (rv == 0)
    return;
  switch (rv)
    {
      case NGTCP2_ERR_DRAINING:
        /* The peer closed the connection. */
        conn_mark_dead (
            c, g_error_new (CONFAB_WT_ERROR, CONFAB_WT_ERROR_CLOSED, "peer closed the connection"));
        break;
      case NGTCP2_ERR_DROP_CONN:
      case NGTCP2_ERR_RETRY:
        conn_mark_dead (c, NULL);
        break;
      default:
        conn_close_liberr (c, rv);
        break;
    }
}

void
confab_wt_conn_free (ConfabWtConn *c)
{
  /* Unregister every id that still routes here. */
  if (c->ep->conns_by_cid != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, c->ep->conns_by_cid);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (value == c)
          g_hash_table_iter_remove (&iter);
    }
  g_queue_clear (&c->send_queue);
  g_queue_clear (&c->send_urgent);
  g_queue_clear_full (&c->pending_open, (GDestroyNotify) stream_free);
  g_queue_clear_full (&c->datagrams, (GDestroyNotify) g_bytes_unref);
  g_hash_table_destroy (c->streams);
  if (c->conn != NULL)
    ngtcp2_conn_del (c->conn);
  if (c->tls != NULL)
    gnutls_deinit (c->tls);
  confab_wt_endpoint_forget (c->ep, c);
  if (c->session != NULL)
    confab_wt_session_attach_conn (c->session, NULL);
  if (c->session != NULL && c->owns_session)
    {
      confab_wt_session_finish (c->session, c->close_error, 0, NULL);
      g_object_unref (c->session);
    }
  g_clear_error (&c->close_error);
  g_queue_clear_full (&c->early, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&c->early_dgrams, (GDestroyNotify) g_bytes_unref);
  g_free (c->host);
  g_free (c->authority);
  g_free (c->path);
  g_free (c);
}

/* ---- the session's verbs --------------------------------------------------- */

gboolean
confab_wt_conn_queue_stream (ConfabWtConn *c, GBytes *message)
{
  ConfabWtStream *s;
  guint8 head[16];
  gsize head_len, size = g_bytes_get_size (message);

  if (c->dead || !c->session_open || size > CONFAB_WT_MAX_MESSAGE_SIZE)
    return FALSE;
  if (c->queued_streams >= CONFAB_WT_MAX_QUEUED_STREAMS ||
      c->queued_bytes + size > CONFAB_WT_MAX_QUEUED_BYTES)
    return FALSE;
  s = stream_new (-1, STREAM_LOCAL);
  head_len = confab_wt_stream_header_write (head, sizeof head, FALSE, (uint64_t) c->session_id);
  stream_queue_copy (c, s, head, head_len, FALSE);
  stream_queue (c, s, message, TRUE);
  s->counted = TRUE;
  c->queued_streams++;
  c->queued_bytes += s->total;
  g_queue_push_tail (&c->pending_open, s);
  conn_schedule (c);
  return TRUE;
}

gsize
confab_wt_conn_max_datagram_size (ConfabWtConn *c)
{
  const ngtcp2_cid *dcid;
  gsize udp, overhead;

  if (c->dead || !c->session_open)
    return 0;
  dcid = ngtcp2_conn_get_dcid (c->conn);
  udp = ngtcp2_conn_get_path_max_tx_udp_payload_size (c->conn);
  /* Short header + packet number + AEAD tag + DATAGRAM frame type/length. */
  overhead = 1 + dcid->datalen + 4 + 16 + 1 + 2 + c->dgram_prefix_len;
  if (udp <= overhead)
    return 0;
  return MIN (udp - overhead, (gsize) CONFAB_WT_MAX_DATAGRAM_SIZE);
}

gboolean
confab_wt_conn_queue_datagram (ConfabWtConn *c, GBytes *message)
{
  /* Empty: ngtcp2 0.12 asserts on a DATAGRAM frame without payload bytes. */
  if (c->dead || !c->session_open || g_bytes_get_size (message) == 0 ||
      g_bytes_get_size (message) > confab_wt_conn_max_datagram_size (c) ||
      g_queue_get_length (&c->datagrams) >= CONFAB_WT_MAX_QUEUED_DATAGRAMS)
    {
      if (c->session != NULL)
        confab_wt_session_stats (c->session)->datagrams_dropped++;
      return FALSE;
    }
  g_queue_push_tail (&c->datagrams, g_bytes_ref (message));
  conn_schedule (c);
  return TRUE;
}

void
confab_wt_conn_close_session (ConfabWtConn *c, guint32 code, const char *reason)
{
  ConfabWtStream *req;
  guint8 buf[CONFAB_WT_MAX_CLOSE_REASON + 32];
  gsize n;

  if (c->dead || !c->session_open)
    return;
  req = conn_stream (c, c->session_id);
  if (req != NULL)
    {
      n = confab_wt_close_capsule_write (buf, sizeof buf, code, reason);
      stream_queue_copy (c, req, buf, n, FALSE);
    }
  conn_end_session (c, NULL, code, reason);
}

void
confab_wt_conn_close_now (ConfabWtConn *c)
{
  if (c->dead)
    return;
  conn_request_close (c, CONFAB_H3_NO_ERROR);
  confab_wt_conn_flush (c);
}

void
confab_wt_conn_drain_session (ConfabWtConn *c)
{
  ConfabWtStream *control, *req;
  uint64_t goaway_id = c->ep->is_server ? (uint64_t) c->session_id + 4 : 0;
  guint8 buf[32];
  gsize n;

  if (c->dead || !c->session_open || c->drain_sent)
    return;
  if (!c->h3_ready)
    {
      c->drain_wanted = TRUE;
      return;
    }
  c->drain_sent = TRUE;
  /* GOAWAY: a server names the first request stream it will not serve (the
   * one after our session); a client names push id 0 (it takes no pushes). */
  control = conn_stream (c, c->control_id);
  n = confab_h3_frame_header_write (buf, sizeof buf, CONFAB_H3_FRAME_GOAWAY,
                                    confab_h3_varint_len (goaway_id));
  n += confab_h3_varint_write (buf + n, sizeof buf - n, goaway_id);
  if (control != NULL)
    stream_queue_copy (c, control, buf, n, FALSE);
  /* DRAIN_WEBTRANSPORT_SESSION: an empty capsule in a DATA frame. */
  req = conn_stream (c, c->session_id);
  if (req != NULL)
    {
      guint8 capsule[16];
      gsize clen = confab_h3_frame_header_write (capsule, sizeof capsule,
                                                 CONFAB_WT_CAPSULE_DRAIN_SESSION, 0);

      n = confab_h3_frame_header_write (buf, sizeof buf, CONFAB_H3_FRAME_DATA, clen);
      memcpy (buf + n, capsule, clen);
      stream_queue_copy (c, req, buf, n + clen, FALSE);
    }
  conn_schedule (c);
}

gboolean
confab_wt_conn_queue_raw (ConfabWtConn *c, gboolean bidi, GBytes *bytes)
{
  ConfabWtStream *s;
  int64_t id;
  int rv;

  if (c->dead || !ngtcp2_conn_get_handshake_completed (c->conn))
    return FALSE;
  rv = bidi ? ngtcp2_conn_open_bidi_stream (c->conn, &id, NULL)
            : ngtcp2_conn_open_uni_stream (c->conn, &id, NULL);
  if (rv != 0)
    return FALSE;
  s = stream_new (id, STREAM_LOCAL);
  conn_add_stream (c, s);
  stream_queue (c, s, bytes, TRUE);
  conn_schedule (c);
  return TRUE;
}

char *
confab_wt_conn_dup_remote (ConfabWtConn *c)
{
  g_autoptr (GSocketAddress) addr =
      g_socket_address_new_from_native (&c->remote, (gsize) c->remote_len);
  g_autoptr (GInetAddress) inet = NULL;
  g_autofree char *ip = NULL;

  if (addr == NULL || !G_IS_INET_SOCKET_ADDRESS (addr))
    return NULL;
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
  return g_strdup_printf (g_inet_address_get_family (g_inet_socket_address_get_address (
                              G_INET_SOCKET_ADDRESS (addr))) == G_SOCKET_FAMILY_IPV6
                              ? "[%s]:%u"
                              : "%s:%u",
                          ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
}
