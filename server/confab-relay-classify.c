/* confab-relay-classify.c: PROTOCOL.md §4.3 as a pure function of the bytes. */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-relay-classify.h"

#include <string.h>

static gboolean
is_system_identity (const ProtobufCBinaryData *user_id)
{
  static const gsize system_len = sizeof CONFAB_SYSTEM_USER_ID - 1;

  return user_id->len == system_len &&
         memcmp (user_id->data, CONFAB_SYSTEM_USER_ID, system_len) == 0;
}

void
confab_relay_classify (const guint8 *data,
                       gsize len,
                       ConfabArena *arena,
                       ConfabRelayClassification *out)
{
  ProtobufCAllocator *allocator = confab_arena_allocator (arena);
  ConfabPacketWrapper *wrapper;

  memset (out, 0, sizeof *out);
  out->packet_type = -1;
  if (len > CONFAB_MAX_PACKET_SIZE)
    {
      /* The transport enforces the cap; never parse more than it allows. */
      out->verdict = CONFAB_RELAY_VERDICT_OPAQUE;
      return;
    }

  /* protobuf-c reads nothing when len is 0, but wants a valid pointer. */
  wrapper =
      confab__packet_wrapper__unpack (allocator, len, data != NULL ? data : (const guint8 *) "");
  if (wrapper == NULL)
    {
      out->verdict = CONFAB_RELAY_VERDICT_OPAQUE;
      return;
    }

  /* protobuf-c accepts field number 0 (a non-canonical tag such as 80 00) as
   * an unknown field, but writes it back in a form it then refuses to parse:
   * a stamped copy would be garbage. Field 0 is invalid protobuf; found by the
   * fuzzer. */
  for (size_t i = 0; i < wrapper->base.n_unknown_fields; i++)
    if (wrapper->base.unknown_fields[i].tag == 0)
      {
        out->verdict = CONFAB_RELAY_VERDICT_OPAQUE;
        return;
      }

  out->wrapper = wrapper;
  out->packet_type = wrapper->packet_type;

  if (is_system_identity (&wrapper->user_id))
    {
      out->verdict = CONFAB_RELAY_VERDICT_DROP_SYSTEM_IDENTITY;
      return;
    }

  switch (wrapper->packet_type)
    {
      case CONFAB_PACKET_CONGESTION:
        out->verdict = CONFAB_RELAY_VERDICT_DROP_CONGESTION;
        return;

      case CONFAB_PACKET_HEALTH:
        out->verdict = CONFAB_RELAY_VERDICT_HEALTH;
        return;

      case CONFAB_PACKET_MEDIA:
        {
          /* Encrypted media does not parse as a MediaPacket: it is forwarded. */
          ConfabMediaPacket *media = confab__media_packet__unpack (
              allocator, wrapper->data.len,
              wrapper->data.data != NULL ? wrapper->data.data : (const guint8 *) "");
          if (media != NULL)
            {
              out->media_type = media->media_type;
              if (media->media_type == CONFAB_MEDIA_RTT)
                {
                  out->verdict = CONFAB_RELAY_VERDICT_RTT_ECHO;
                  return;
                }
              if (media->media_type == CONFAB_MEDIA_KEYFRAME_REQUEST)
                {
                  out->verdict = CONFAB_RELAY_VERDICT_KEYFRAME_REQUEST;
                  return;
                }
            }
          out->verdict = CONFAB_RELAY_VERDICT_FORWARD;
          return;
        }

      default:
        out->verdict = CONFAB_RELAY_VERDICT_FORWARD;
        return;
    }
}

gsize
confab_relay_stamped_size (const ConfabRelayClassification *c, gsize len, guint64 session_id)
{
  ConfabPacketWrapper copy;

  if (c->wrapper->session_id == session_id)
    return len;
  if (c->wrapper->session_id == 0)
    return len + 11; /* tag + the longest varint */
  copy = *c->wrapper;
  copy.session_id = session_id;
  return confab__packet_wrapper__get_packed_size (&copy);
}

gsize
confab_relay_stamp (
    ConfabRelayClassification *c, const guint8 *data, gsize len, guint64 session_id, guint8 *out)
{
  gsize n = len;

  if (c->wrapper->session_id == session_id)
    {
      memcpy (out, data, len);
      return len;
    }
  if (c->wrapper->session_id != 0)
    {
      c->wrapper->session_id = session_id;
      return confab__packet_wrapper__pack (c->wrapper, out);
    }
  memcpy (out, data, len);
  out[n++] = 0x20; /* field 4, wire type varint */
  while (session_id > 0x7f)
    {
      out[n++] = (guint8) (session_id | 0x80);
      session_id >>= 7;
    }
  out[n++] = (guint8) session_id;
  return n;
}

const char *
confab_relay_verdict_to_string (ConfabRelayVerdict verdict)
{
  switch (verdict)
    {
      case CONFAB_RELAY_VERDICT_OPAQUE:
        return "opaque";
      case CONFAB_RELAY_VERDICT_DROP_CONGESTION:
        return "drop-congestion";
      case CONFAB_RELAY_VERDICT_DROP_SYSTEM_IDENTITY:
        return "drop-system-identity";
      case CONFAB_RELAY_VERDICT_RTT_ECHO:
        return "rtt-echo";
      case CONFAB_RELAY_VERDICT_KEYFRAME_REQUEST:
        return "rate-limited-keyframe-request";
      case CONFAB_RELAY_VERDICT_HEALTH:
        return "health";
      case CONFAB_RELAY_VERDICT_FORWARD:
        return "forward";
      default:
        return "invalid";
    }
}
