/* confab-relay-buf.h: one refcounted outbound WebSocket message, shared by every
 * receiver of a packet. The payload sits after LWS_PRE bytes of headroom and the
 * server frame header (unmasked, binary, FIN) is computed once at creation, so a
 * writer can either lws_write() it in place or copy header + payload into a
 * coalesced write. Main-thread only once handed over (the refcount is plain). */
#pragma once

#include <glib.h>
#include <libwebsockets.h>

G_BEGIN_DECLS

typedef struct _ConfabRelayBuf ConfabRelayBuf;

struct _ConfabRelayBuf
{
  guint ref;
  guint32 len;
  guint8 hdr_len;
  guint8 hdr[10];
  /* LWS_PRE bytes of headroom, then len bytes of payload. */
  guint8 storage[];
};

/* A buffer for @len payload bytes (uninitialised), refcount 1. */
ConfabRelayBuf *confab_relay_buf_new (gsize len);
ConfabRelayBuf *confab_relay_buf_new_copy (const void *data, gsize len);
/* Takes the bytes of a GBytes built by the proto helpers (one copy). */
ConfabRelayBuf *confab_relay_buf_new_from_bytes (GBytes *bytes);

static inline guint8 *
confab_relay_buf_payload (ConfabRelayBuf *buf)
{
  return buf->storage + LWS_PRE;
}

static inline ConfabRelayBuf *
confab_relay_buf_ref (ConfabRelayBuf *buf)
{
  buf->ref++;
  return buf;
}

void confab_relay_buf_unref (ConfabRelayBuf *buf);

/* Writes the header of an unmasked final binary frame of @len bytes into @out
 * (10 bytes at most) and returns its length. */
guint confab_ws_frame_header (guint8 *out, guint64 len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabRelayBuf, confab_relay_buf_unref)

G_END_DECLS
