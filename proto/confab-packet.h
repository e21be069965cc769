/* confab-packet.h: limits, identities and small helpers around the generated
 * wire schema (shared/PROTOCOL.md). Everything here is GTK-free and allocation-
 * aware: the relay's per-packet path unpacks into a ConfabArena. */
#pragma once

#include <glib.h>

#include "confab.pb-c.h"

G_BEGIN_DECLS

/* PROTOCOL.md §1 */
#define CONFAB_MAX_PACKET_SIZE   4000000
#define CONFAB_MAX_DATAGRAM_SIZE 1200
/* PROTOCOL.md §3: server-made packets carry this user id; never accepted from a client. */
#define CONFAB_SYSTEM_USER_ID "system-&^%$#@!"
/* Longest user id or room name we accept; upstream's regex has no bound, but a room
 * name ends up in NATS subjects and log lines. */
#define CONFAB_MAX_NAME_LENGTH 256

/* Short aliases for the generated enum names, which are long. */
typedef Confab__PacketWrapper ConfabPacketWrapper;
typedef Confab__MediaPacket ConfabMediaPacket;
typedef Confab__MeetingPacket ConfabMeetingPacket;

#define CONFAB_PACKET_MEDIA            CONFAB__PACKET_WRAPPER__PACKET_TYPE__MEDIA
#define CONFAB_PACKET_CONNECTION       CONFAB__PACKET_WRAPPER__PACKET_TYPE__CONNECTION
#define CONFAB_PACKET_DIAGNOSTICS      CONFAB__PACKET_WRAPPER__PACKET_TYPE__DIAGNOSTICS
#define CONFAB_PACKET_HEALTH           CONFAB__PACKET_WRAPPER__PACKET_TYPE__HEALTH
#define CONFAB_PACKET_MEETING          CONFAB__PACKET_WRAPPER__PACKET_TYPE__MEETING
#define CONFAB_PACKET_SESSION_ASSIGNED CONFAB__PACKET_WRAPPER__PACKET_TYPE__SESSION_ASSIGNED
#define CONFAB_PACKET_CONGESTION       CONFAB__PACKET_WRAPPER__PACKET_TYPE__CONGESTION

#define CONFAB_MEDIA_VIDEO            CONFAB__MEDIA_PACKET__MEDIA_TYPE__VIDEO
#define CONFAB_MEDIA_AUDIO            CONFAB__MEDIA_PACKET__MEDIA_TYPE__AUDIO
#define CONFAB_MEDIA_SCREEN           CONFAB__MEDIA_PACKET__MEDIA_TYPE__SCREEN
#define CONFAB_MEDIA_HEARTBEAT        CONFAB__MEDIA_PACKET__MEDIA_TYPE__HEARTBEAT
#define CONFAB_MEDIA_RTT              CONFAB__MEDIA_PACKET__MEDIA_TYPE__RTT
#define CONFAB_MEDIA_KEYFRAME_REQUEST CONFAB__MEDIA_PACKET__MEDIA_TYPE__KEYFRAME_REQUEST

#define CONFAB_MEETING_STARTED CONFAB__MEETING_PACKET__MEETING_EVENT_TYPE__MEETING_STARTED
#define CONFAB_MEETING_ENDED   CONFAB__MEETING_PACKET__MEETING_EVENT_TYPE__MEETING_ENDED
#define CONFAB_MEETING_PARTICIPANT_JOINED                                                          \
  CONFAB__MEETING_PACKET__MEETING_EVENT_TYPE__PARTICIPANT_JOINED
#define CONFAB_MEETING_PARTICIPANT_LEFT CONFAB__MEETING_PACKET__MEETING_EVENT_TYPE__PARTICIPANT_LEFT

/* A bump allocator for protobuf-c: unpacking a packet costs no malloc once the
 * arena has grown to the largest packet seen; confab_arena_reset() frees all at once. */
typedef struct _ConfabArena ConfabArena;

ConfabArena *confab_arena_new (gsize initial_size);
void confab_arena_free (ConfabArena *arena);
void confab_arena_reset (ConfabArena *arena);
ProtobufCAllocator *confab_arena_allocator (ConfabArena *arena);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabArena, confab_arena_free)

/* PROTOCOL.md §3: user ids and room names match ^[a-zA-Z0-9_-]*$ once spaces
 * have become '_'. We also refuse empty and over-long names. */
gboolean confab_name_is_valid (const char *name);
/* Returns a newly allocated copy with spaces replaced by '_' (no validation). */
char *confab_name_normalize (const char *name);

/* Serializes @wrapper into a new GBytes. */
GBytes *confab_packet_pack (const ConfabPacketWrapper *wrapper);
/* Serializes a PacketWrapper around an already-packed inner message. */
GBytes *confab_packet_wrap (Confab__PacketWrapper__PacketType type,
                            const char *user_id,
                            guint64 session_id,
                            const guint8 *data,
                            gsize data_len);
/* Packs any message into a new GBytes (e.g. a MediaPacket before wrapping). */
GBytes *confab_message_pack (const ProtobufCMessage *message);

/* The server-made packets of PROTOCOL.md §4.1. */
GBytes *confab_packet_new_session_assigned (guint64 session_id);
GBytes *confab_packet_new_meeting (const ConfabMeetingPacket *meeting);

const char *confab_packet_type_to_string (int packet_type);
const char *confab_media_type_to_string (int media_type);

/* Wall-clock milliseconds since the epoch, as the protocol's timestamps use. */
guint64 confab_now_epoch_ms (void);

G_END_DECLS
