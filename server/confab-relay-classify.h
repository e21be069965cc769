/* confab-relay-classify.h: the relay's verdict on one inbound packet
 * (PROTOCOL.md §4.3). A pure function of the bytes: no I/O, no state, so it can
 * be fuzzed on its own and the relay's policy (rate limits, observers) stays in
 * the session code. */
#pragma once

#include <glib.h>

#include "confab-packet.h"

G_BEGIN_DECLS

typedef enum
{
  /* Not a PacketWrapper: forward the bytes untouched (they carry no session id). */
  CONFAB_RELAY_VERDICT_OPAQUE,
  /* CONGESTION is only ever made by relays; a client's is dropped. */
  CONFAB_RELAY_VERDICT_DROP_CONGESTION,
  /* A client claiming the reserved system identity: dropped, so nobody can forge
   * PARTICIPANT_LEFT or MEETING_ENDED for the room. */
  CONFAB_RELAY_VERDICT_DROP_SYSTEM_IDENTITY,
  /* MEDIA carrying MediaPacket{RTT}: echoed to the sender, never published. */
  CONFAB_RELAY_VERDICT_RTT_ECHO,
  /* MEDIA carrying MediaPacket{KEYFRAME_REQUEST}: forwarded, rate-limited. */
  CONFAB_RELAY_VERDICT_KEYFRAME_REQUEST,
  /* HEALTH: consumed by the relay, never forwarded to peers. */
  CONFAB_RELAY_VERDICT_HEALTH,
  /* Everything else: stamped with the sender's session id and forwarded. */
  CONFAB_RELAY_VERDICT_FORWARD,
} ConfabRelayVerdict;

typedef struct
{
  ConfabRelayVerdict verdict;
  /* Unpacked into the caller's arena; NULL when the verdict is OPAQUE. Valid
   * until the arena is reset. */
  ConfabPacketWrapper *wrapper;
  int packet_type; /* -1 when opaque */
  int media_type;  /* 0 unless MEDIA whose data parsed as a MediaPacket */
} ConfabRelayClassification;

/* Classifies @len bytes at @data (any bytes at all, including NULL with @len 0),
 * allocating only from @arena. Always fills @out. */
void confab_relay_classify (const guint8 *data,
                            gsize len,
                            ConfabArena *arena,
                            ConfabRelayClassification *out);

/* Stamping (PROTOCOL.md §4.4) of a packet classified FORWARD or
 * KEYFRAME_REQUEST: the bytes to send carry @session_id. Bytes that already
 * carry it go out as they are; a wrapper without a session id gets field 4
 * appended (fields may come in any order, so no repack); otherwise it is
 * repacked. confab_relay_stamped_size() is an upper bound of what
 * confab_relay_stamp() writes to @out; it returns the length written. */
gsize confab_relay_stamped_size (const ConfabRelayClassification *c, gsize len, guint64 session_id);
gsize confab_relay_stamp (
    ConfabRelayClassification *c, const guint8 *data, gsize len, guint64 session_id, guint8 *out);

const char *confab_relay_verdict_to_string (ConfabRelayVerdict verdict);

G_END_DECLS
