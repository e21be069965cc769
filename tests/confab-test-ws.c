/* confab-test-ws.c: a raw WebSocket client for the relay tests. */
#define G_LOG_DOMAIN "confab-test"

#include "confab-test-ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static gboolean
write_all (int fd, const guint8 *p, gsize len)
{
  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Reads what is there (waiting up to @timeout_ms for something); FALSE on EOF/error. */
static gboolean
read_some (ConfabTestWs *ws, guint timeout_ms)
{
  struct pollfd pfd = { .fd = ws->fd, .events = POLLIN };
  guint8 buf[65536];
  ssize_t n;

  if (poll (&pfd, 1, (int) timeout_ms) <= 0)
    return TRUE;
  n = recv (ws->fd, buf, sizeof buf, 0);
  if (n <= 0)
    {
      ws->closed = TRUE;
      return FALSE;
    }
  g_byte_array_append (ws->in, buf, (guint) n);
  return TRUE;
}

static int
connect_socket (guint16 port, int rcvbuf)
{
  struct sockaddr_in sa = { .sin_family = AF_INET,
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
                            .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  if (rcvbuf > 0)
    g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), ==, 0);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Reads the HTTP head; returns the status and leaves the rest in ws->in. */
static guint
read_http_head (ConfabTestWs *ws, guint timeout_ms, gsize *head_len)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint status = 0;

  while (g_get_monotonic_time () < deadline)
    {
      const char *end = NULL;
      if (ws->in->len > 0)
        {
          g_byte_array_append (ws->in, (const guint8 *) "", 1); /* NUL for sscanf */
          g_byte_array_set_size (ws->in, ws->in->len - 1);
          end = g_strstr_len ((const char *) ws->in->data, ws->in->len, "\r\n\r\n");
        }
      if (end != NULL)
        {
          *head_len = (gsize) (end + 4 - (const char *) ws->in->data);
          if (sscanf ((const char *) ws->in->data, "HTTP/1.%*d %u", &status) != 1)
            status = 0;
          return status;
        }
      if (!read_some (ws, 100))
        break;
    }
  *head_len = 0;
  return 0;
}

ConfabTestWs *
confab_test_ws_connect_full (guint16 port, const char *path, int rcvbuf)
{
  ConfabTestWs *ws = g_new0 (ConfabTestWs, 1);
  g_autofree char *request = NULL;
  gsize head_len;

  ws->in = g_byte_array_new ();
  ws->frag = g_byte_array_new ();
  ws->auto_pong = TRUE;
  ws->fd = connect_socket (port, rcvbuf);
  if (ws->fd < 0)
    {
      ws->closed = TRUE;
      return ws;
    }
  request =
      g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n",
                       path, port);
  if (!write_all (ws->fd, (const guint8 *) request, strlen (request)))
    {
      ws->closed = TRUE;
      return ws;
    }
  ws->status = read_http_head (ws, 5000, &head_len);
  g_byte_array_remove_range (ws->in, 0, (guint) head_len);
  return ws;
}

ConfabTestWs *
confab_test_ws_connect (guint16 port, const char *path)
{
  return confab_test_ws_connect_full (port, path, 0);
}

ConfabTestWs *
confab_test_ws_join (guint16 port, const char *user, const char *room)
{
  g_autofree char *path = g_strdup_printf ("/lobby/%s/%s", user, room);
  ConfabTestWs *ws = confab_test_ws_connect (port, path);
  ConfabPacketWrapper *p;

  g_assert_cmpuint (ws->status, ==, 101);
  p = confab_test_ws_recv_packet (ws, 5000);
  g_assert_nonnull (p);
  g_assert_cmpint (p->packet_type, ==, CONFAB_PACKET_SESSION_ASSIGNED);
  g_assert_cmpuint (p->session_id, !=, 0);
  ws->session_id = p->session_id;
  confab__packet_wrapper__free_unpacked (p, NULL);
  p = confab_test_ws_recv_packet (ws, 5000);
  g_assert_nonnull (p);
  g_assert_cmpint (p->packet_type, ==, CONFAB_PACKET_MEETING);
  confab__packet_wrapper__free_unpacked (p, NULL);
  return ws;
}

void
confab_test_ws_free (ConfabTestWs *ws)
{
  if (ws == NULL)
    return;
  if (ws->fd >= 0)
    close (ws->fd);
  g_byte_array_unref (ws->in);
  g_byte_array_unref (ws->frag);
  g_free (ws);
}

gboolean
confab_test_ws_send_frame (
    ConfabTestWs *ws, guint opcode, gboolean fin, const void *data, gsize len)
{
  g_autoptr (GByteArray) frame = g_byte_array_sized_new ((guint) len + 14);
  guint8 head[14];
  gsize n = 0;
  guint8 mask[4];
  guint32 r = g_random_int ();

  memcpy (mask, &r, 4);
  head[n++] = (guint8) ((fin ? 0x80 : 0) | (opcode & 0x0f));
  if (len < 126)
    head[n++] = 0x80 | (guint8) len;
  else if (len <= 0xffff)
    {
      head[n++] = 0x80 | 126;
      head[n++] = (guint8) (len >> 8);
      head[n++] = (guint8) len;
    }
  else
    {
      head[n++] = 0x80 | 127;
      for (int i = 7; i >= 0; i--)
        head[n++] = (guint8) ((guint64) len >> (8 * i));
    }
  memcpy (head + n, mask, 4);
  n += 4;
  g_byte_array_append (frame, head, (guint) n);
  g_byte_array_set_size (frame, (guint) (n + len));
  memcpy (frame->data + n, data, len);
  {
    /* Mask a word at a time: the tests push tens of megabytes. */
    guint64 mask64 = 0;
    gsize i = 0;
    for (int k = 0; k < 8; k++)
      mask64 |= (guint64) mask[k % 4] << (8 * k);
    for (; i + 8 <= len; i += 8)
      {
        guint64 w;
        memcpy (&w, frame->data + n + i, 8);
        w ^= GUINT64_FROM_LE (mask64);
        memcpy (frame->data + n + i, &w, 8);
      }
    for (; i < len; i++)
      frame->data[n + i] ^= mask[i % 4];
  }
  return write_all (ws->fd, frame->data, frame->len);
}

gboolean
confab_test_ws_send (ConfabTestWs *ws, const void *data, gsize len)
{
  return confab_test_ws_send_frame (ws, 0x2, TRUE, data, len);
}

gboolean
confab_test_ws_send_bytes (ConfabTestWs *ws, GBytes *bytes)
{
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);

  return confab_test_ws_send (ws, data, len);
}

gboolean
confab_test_ws_send_fragmented (ConfabTestWs *ws, const void *data, gsize len, guint pieces)
{
  gsize step = MAX (len / pieces, 1), off = 0;
  guint opcode = 0x2;

  while (TRUE)
    {
      gsize n = MIN (step, len - off);
      gboolean fin = off + n >= len;
      if (!confab_test_ws_send_frame (ws, opcode, fin, (const guint8 *) data + off, n))
        return FALSE;
      off += n;
      opcode = 0x0;
      if (fin)
        return TRUE;
    }
}

/* Parses one frame from ws->in; returns a complete binary message, or NULL. */
static GBytes *
parse_frames (ConfabTestWs *ws, gboolean *progress)
{
  *progress = FALSE;
  while (ws->in->len >= 2)
    {
      const guint8 *p = ws->in->data;
      guint opcode = p[0] & 0x0f;
      gboolean fin = (p[0] & 0x80) != 0;
      guint64 len = p[1] & 0x7f;
      gsize head = 2;
      GBytes *message = NULL;

      g_assert_false (p[1] & 0x80); /* servers never mask */
      if (len == 126)
        {
          if (ws->in->len < 4)
            return NULL;
          len = ((guint64) p[2] << 8) | p[3];
          head = 4;
        }
      else if (len == 127)
        {
          if (ws->in->len < 10)
            return NULL;
          len = 0;
          for (int i = 0; i < 8; i++)
            len = (len << 8) | p[2 + i];
          head = 10;
        }
      if (ws->in->len < head + len)
        return NULL;

      *progress = TRUE;
      switch (opcode)
        {
          case 0x8:
            ws->closed = TRUE;
            if (len >= 2)
              ws->close_code = ((guint) p[head] << 8) | p[head + 1];
            break;
          case 0x9:
            ws->pings++;
            if (ws->auto_pong)
              confab_test_ws_send_frame (ws, 0xA, TRUE, p + head, len);
            break;
          case 0xA:
            break;
          case 0x1:
          case 0x2:
          case 0x0:
            g_byte_array_append (ws->frag, p + head, (guint) len);
            if (fin)
              {
                if (opcode == 0x2 || opcode == 0x0)
                  message = g_bytes_new (ws->frag->data, ws->frag->len);
                g_byte_array_set_size (ws->frag, 0);
              }
            break;
          default:
            break;
        }
      g_byte_array_remove_range (ws->in, 0, (guint) (head + len));
      if (message != NULL)
        return message;
    }
  return NULL;
}

GBytes *
confab_test_ws_recv (ConfabTestWs *ws, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (TRUE)
    {
      gboolean progress;
      GBytes *message = parse_frames (ws, &progress);
      gint64 left;

      if (message != NULL)
        return message;
      if (ws->closed)
        return NULL;
      left = (deadline - g_get_monotonic_time ()) / 1000;
      if (left <= 0)
        return NULL;
      if (!read_some (ws, (guint) MIN (left, 100)))
        {
          /* EOF: whatever is buffered may still hold messages. */
          message = parse_frames (ws, &progress);
          ws->closed = TRUE;
          return message;
        }
    }
}

ConfabPacketWrapper *
confab_test_ws_recv_packet (ConfabTestWs *ws, guint timeout_ms)
{
  g_autoptr (GBytes) message = confab_test_ws_recv (ws, timeout_ms);
  gsize len;
  const guint8 *data;

  if (message == NULL)
    return NULL;
  data = g_bytes_get_data (message, &len);
  return confab__packet_wrapper__unpack (NULL, len, data != NULL ? data : (const guint8 *) "");
}

gboolean
confab_test_ws_wait_closed (ConfabTestWs *ws, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!ws->closed && g_get_monotonic_time () < deadline)
    {
      g_autoptr (GBytes) message = confab_test_ws_recv (ws, 100);
    }
  return ws->closed;
}

char *
confab_test_http_get (guint16 port, const char *path, guint *status)
{
  g_autoptr (ConfabTestWs) ws = g_new0 (ConfabTestWs, 1);
  g_autofree char *request = NULL;
  gsize head_len;
  const char *cl;
  gsize content_length = 0;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  ws->in = g_byte_array_new ();
  ws->frag = g_byte_array_new ();
  *status = 0;
  ws->fd = connect_socket (port, 0);
  if (ws->fd < 0)
    return NULL;
  request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
                             path, port);
  if (!write_all (ws->fd, (const guint8 *) request, strlen (request)))
    return NULL;
  *status = read_http_head (ws, 5000, &head_len);
  if (*status == 0)
    return NULL;
  cl = g_strstr_len ((const char *) ws->in->data, (gssize) head_len, "content-length:");
  if (cl != NULL)
    content_length = g_ascii_strtoull (cl + strlen ("content-length:"), NULL, 10);
  while (ws->in->len < head_len + content_length && g_get_monotonic_time () < deadline)
    if (!read_some (ws, 100))
      break;
  return g_strndup ((const char *) ws->in->data + head_len,
                    MIN (content_length, ws->in->len - head_len));
}

GBytes *
confab_test_packet (int packet_type, const char *user, const char *payload, guint64 session_id)
{
  return confab_packet_wrap (packet_type, user, session_id, (const guint8 *) payload,
                             payload != NULL ? strlen (payload) : 0);
}

GBytes *
confab_test_media_packet (int media_type, const char *user, const char *payload, guint64 session_id)
{
  ConfabMediaPacket m = CONFAB__MEDIA_PACKET__INIT;
  g_autoptr (GBytes) inner = NULL;
  gsize len;
  const guint8 *data;

  m.media_type = media_type;
  m.user_id.data = (guint8 *) user;
  m.user_id.len = strlen (user);
  m.data.data = (guint8 *) payload;
  m.data.len = payload != NULL ? strlen (payload) : 0;
  m.timestamp = (double) g_get_monotonic_time () / 1000.0;
  inner = confab_message_pack (&m.base);
  data = g_bytes_get_data (inner, &len);
  return confab_packet_wrap (CONFAB_PACKET_MEDIA, user, session_id, data, len);
}

void
confab_test_packet_free (gpointer packet)
{
  confab__packet_wrapper__free_unpacked (packet, NULL);
}

ConfabMediaPacket *
confab_test_media_of (const ConfabPacketWrapper *p)
{
  if (p == NULL || p->packet_type != CONFAB_PACKET_MEDIA)
    return NULL;
  return confab__media_packet__unpack (NULL, p->data.len,
                                       p->data.data != NULL ? p->data.data : (guint8 *) "");
}

ConfabMeetingPacket *
confab_test_meeting_of (const ConfabPacketWrapper *p)
{
  if (p == NULL || p->packet_type != CONFAB_PACKET_MEETING)
    return NULL;
  return confab__meeting_packet__unpack (NULL, p->data.len,
                                         p->data.data != NULL ? p->data.data : (guint8 *) "");
}

gboolean
confab_test_is_marker (const ConfabPacketWrapper *p, const char *tag)
{
  ConfabMediaPacket *m = confab_test_media_of (p);
  gboolean yes = m != NULL && m->media_type == CONFAB_MEDIA_VIDEO && m->data.len == strlen (tag) &&
                 memcmp (m->data.data, tag, m->data.len) == 0;

  if (m != NULL)
    confab__media_packet__free_unpacked (m, NULL);
  return yes;
}

void
confab_test_ws_send_marker (ConfabTestWs *ws, const char *user, const char *tag)
{
  g_autoptr (GBytes) b = confab_test_media_packet (CONFAB_MEDIA_VIDEO, user, tag, 0);
  g_assert_true (confab_test_ws_send_bytes (ws, b));
}

void
confab_test_ws_activate (ConfabTestWs *ws, const char *user)
{
  g_autoptr (GBytes) hb = confab_test_media_packet (CONFAB_MEDIA_HEARTBEAT, user, NULL, 0);
  g_assert_true (confab_test_ws_send_bytes (ws, hb));
}

ConfabMeetingPacket *
confab_test_ws_wait_meeting (ConfabTestWs *ws, int event, const char *user, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (ws, 100);
      ConfabMeetingPacket *m;

      if (p == NULL || (m = confab_test_meeting_of (p)) == NULL)
        continue;
      if ((int) m->event_type == event &&
          (user == NULL || (m->target_user_id.len == strlen (user) &&
                            memcmp (m->target_user_id.data, user, m->target_user_id.len) == 0)))
        {
          g_assert_cmpuint (p->user_id.len, ==, strlen (CONFAB_SYSTEM_USER_ID));
          g_assert_cmpmem (p->user_id.data, p->user_id.len, CONFAB_SYSTEM_USER_ID,
                           strlen (CONFAB_SYSTEM_USER_ID));
          return m;
        }
      confab__meeting_packet__free_unpacked (m, NULL);
    }
  return NULL;
}
