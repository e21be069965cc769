/* confab-relay-buf.c: refcounted outbound messages with a precomputed frame header. */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-relay-buf.h"

#include <string.h>

guint
confab_ws_frame_header (guint8 *out, guint64 len)
{
  /* RFC 6455 §5.2: FIN + opcode 2 (binary); servers never mask. */
  out[0] = 0x82;
  if (len < 126)
    {
      out[1] = (guint8) len;
      return 2;
    }
  if (len <= 0xffff)
    {
      out[1] = 126;
      out[2] = (guint8) (len >> 8);
      out[3] = (guint8) len;
      return 4;
    }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (guint8) (len >> (56 - 8 * i));
  return 10;
}

ConfabRelayBuf *
confab_relay_buf_new (gsize len)
{
  ConfabRelayBuf *buf = g_malloc (sizeof (ConfabRelayBuf) + LWS_PRE + len);

  buf->ref = 1;
  buf->len = (guint32) len;
  buf->hdr_len = (guint8) confab_ws_frame_header (buf->hdr, len);
  return buf;
}

ConfabRelayBuf *
confab_relay_buf_new_copy (const void *data, gsize len)
{
  ConfabRelayBuf *buf = confab_relay_buf_new (len);

  if (len > 0)
    memcpy (confab_relay_buf_payload (buf), data, len);
  return buf;
}

ConfabRelayBuf *
confab_relay_buf_new_from_bytes (GBytes *bytes)
{
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);

  return confab_relay_buf_new_copy (data, len);
}

void
confab_relay_buf_unref (ConfabRelayBuf *buf)
{
  if (buf != NULL && --buf->ref == 0)
    g_free (buf);
}
