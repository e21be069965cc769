/* test-proto.c: the generated schema and packet helpers against byte strings
 * written by hand from the field numbers of PROTOCOL.md §2, so a wrong field
 * number or wire type in confab.proto fails here rather than on a call. */
#include "confab-packet.h"

#include <string.h>

static void
assert_bytes_equal (GBytes *bytes, const guint8 *expected, gsize expected_len)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  g_assert_cmpmem (data, len, expected, expected_len);
}

/* PacketWrapper{packet_type=MEDIA(3), user_id="alice", data=01 02 03, session_id=300} */
/* clang-format off */
static const guint8 wrapper_bytes[] = {
  0x08, 0x03,                               /* field 1 varint: 3 */
  0x12, 0x05, 'a', 'l', 'i', 'c', 'e',      /* field 2 bytes */
  0x1a, 0x03, 0x01, 0x02, 0x03,             /* field 3 bytes */
  0x20, 0xac, 0x02,                         /* field 4 varint: 300 */
};
/* clang-format on */

static void
test_wrapper_decode (void)
{
  Confab__PacketWrapper *w =
      confab__packet_wrapper__unpack (NULL, sizeof wrapper_bytes, wrapper_bytes);

  g_assert_nonnull (w);
  g_assert_cmpint (w->packet_type, ==, CONFAB_PACKET_MEDIA);
  g_assert_cmpmem (w->user_id.data, w->user_id.len, "alice", 5);
  g_assert_cmpmem (w->data.data, w->data.len, "\x01\x02\x03", 3);
  g_assert_cmpuint (w->session_id, ==, 300);
  confab__packet_wrapper__free_unpacked (w, NULL);
}

static void
test_wrapper_encode (void)
{
  g_autoptr (GBytes) packed =
      confab_packet_wrap (CONFAB_PACKET_MEDIA, "alice", 300, (const guint8 *) "\x01\x02\x03", 3);

  assert_bytes_equal (packed, wrapper_bytes, sizeof wrapper_bytes);
}

/* Every PacketType value of PROTOCOL.md §2, by number. */
static void
test_packet_type_numbers (void)
{
  static const struct
  {
    int value;
    const char *name;
  } expected[] = {
    { 0, "PACKET_TYPE_UNKNOWN" }, { 1, "RSA_PUB_KEY" }, { 2, "AES_KEY" }, { 3, "MEDIA" },
    { 4, "CONNECTION" },          { 5, "DIAGNOSTICS" }, { 6, "HEALTH" },  { 7, "MEETING" },
    { 8, "SESSION_ASSIGNED" },    { 9, "CONGESTION" },
  };
  static const struct
  {
    int value;
    const char *name;
  } media[] = {
    { 0, "MEDIA_TYPE_UNKNOWN" },
    { 1, "VIDEO" },
    { 2, "AUDIO" },
    { 3, "SCREEN" },
    { 4, "HEARTBEAT" },
    { 5, "RTT" },
    { 6, "KEYFRAME_REQUEST" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (confab_packet_type_to_string (expected[i].value), ==, expected[i].name);
  for (gsize i = 0; i < G_N_ELEMENTS (media); i++)
    g_assert_cmpstr (confab_media_type_to_string (media[i].value), ==, media[i].name);
}

/* MediaPacket{RTT, user_id="bob", timestamp=1.5, video_metadata{sequence=7, codec=VP9}} */
/* clang-format off */
static const guint8 media_bytes[] = {
  0x08, 0x05,                                           /* field 1: RTT */
  0x12, 0x03, 'b', 'o', 'b',                            /* field 2 */
  0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, /* field 5 double 1.5 */
  0x42, 0x04, 0x08, 0x07, 0x10, 0x02,                   /* field 8 {1: 7, 2: 2} */
};
/* clang-format on */

static void
test_media_round_trip (void)
{
  Confab__MediaPacket *m = confab__media_packet__unpack (NULL, sizeof media_bytes, media_bytes);
  Confab__MediaPacket built = CONFAB__MEDIA_PACKET__INIT;
  Confab__VideoMetadata vm = CONFAB__VIDEO_METADATA__INIT;
  g_autoptr (GBytes) packed = NULL;

  g_assert_nonnull (m);
  g_assert_cmpint (m->media_type, ==, CONFAB_MEDIA_RTT);
  g_assert_cmpmem (m->user_id.data, m->user_id.len, "bob", 3);
  g_assert_cmpfloat (m->timestamp, ==, 1.5);
  g_assert_nonnull (m->video_metadata);
  g_assert_cmpuint (m->video_metadata->sequence, ==, 7);
  g_assert_cmpint (m->video_metadata->codec, ==, CONFAB__VIDEO_CODEC__VP9_PROFILE0_LEVEL10_8BIT);
  g_assert_null (m->audio_metadata);
  confab__media_packet__free_unpacked (m, NULL);

  built.media_type = CONFAB_MEDIA_RTT;
  built.user_id.data = (guint8 *) "bob";
  built.user_id.len = 3;
  built.timestamp = 1.5;
  vm.sequence = 7;
  vm.codec = CONFAB__VIDEO_CODEC__VP9_PROFILE0_LEVEL10_8BIT;
  built.video_metadata = &vm;
  packed = confab_message_pack (&built.base);
  assert_bytes_equal (packed, media_bytes, sizeof media_bytes);
}

/* AudioMetadata{"opus", 1, 960, 48000.0f, 9} and HeartbeatMetadata{video, speaking} */
static void
test_audio_and_heartbeat_metadata (void)
{
  /* clang-format off */
  static const guint8 audio[] = {
    0x0a, 0x04, 'o', 'p', 'u', 's', /* 1: string */
    0x10, 0x01,                     /* 2: channels */
    0x18, 0xc0, 0x07,               /* 3: 960 */
    0x25, 0x00, 0x80, 0x3b, 0x47,   /* 4: float 48000 */
    0x28, 0x09,                     /* 5: sequence */
  };
  /* clang-format on */
  static const guint8 heartbeat[] = { 0x08, 0x01, 0x20, 0x01 };
  Confab__AudioMetadata *a = confab__audio_metadata__unpack (NULL, sizeof audio, audio);
  Confab__HeartbeatMetadata hb = CONFAB__HEARTBEAT_METADATA__INIT;
  g_autoptr (GBytes) packed = NULL;

  g_assert_nonnull (a);
  g_assert_cmpstr (a->audio_format, ==, "opus");
  g_assert_cmpuint (a->audio_number_of_channels, ==, 1);
  g_assert_cmpuint (a->audio_number_of_frames, ==, 960);
  g_assert_cmpfloat (a->audio_sample_rate, ==, 48000.0f);
  g_assert_cmpuint (a->sequence, ==, 9);
  packed = confab_message_pack (&a->base);
  assert_bytes_equal (packed, audio, sizeof audio);
  confab__audio_metadata__free_unpacked (a, NULL);

  hb.video_enabled = TRUE;
  hb.is_speaking = TRUE;
  g_clear_pointer (&packed, g_bytes_unref);
  packed = confab_message_pack (&hb.base);
  assert_bytes_equal (packed, heartbeat, sizeof heartbeat);
}

/* MeetingPacket{PARTICIPANT_JOINED, room "r1", count 2, target "u", session 9, name "Al"} */
static void
test_meeting_packet (void)
{
  /* clang-format off */
  static const guint8 meeting[] = {
    0x08, 0x03,                   /* 1: PARTICIPANT_JOINED */
    0x12, 0x02, 'r', '1',         /* 2: room_id */
    0x30, 0x02,                   /* 6: participant_count */
    0x3a, 0x01, 'u',              /* 7: target_user_id */
    0x48, 0x09,                   /* 9: session_id */
    0x52, 0x02, 'A', 'l',         /* 10: display_name */
  };
  /* clang-format on */
  Confab__MeetingPacket *m = confab__meeting_packet__unpack (NULL, sizeof meeting, meeting);
  g_autoptr (GBytes) packed = NULL;

  g_assert_nonnull (m);
  g_assert_cmpint (m->event_type, ==, CONFAB_MEETING_PARTICIPANT_JOINED);
  g_assert_cmpstr (m->room_id, ==, "r1");
  g_assert_cmpint (m->participant_count, ==, 2);
  g_assert_cmpmem (m->target_user_id.data, m->target_user_id.len, "u", 1);
  g_assert_cmpuint (m->session_id, ==, 9);
  g_assert_cmpmem (m->display_name.data, m->display_name.len, "Al", 2);
  packed = confab_message_pack (&m->base);
  assert_bytes_equal (packed, meeting, sizeof meeting);
  confab__meeting_packet__free_unpacked (m, NULL);
}

/* HealthPacket.peer_stats is map<string, PeerStats> = field 7 entries {1: key, 2: value}. */
static void
test_health_map (void)
{
  /* clang-format off */
  static const guint8 health[] = {
    0x0a, 0x01, '5',                                    /* 1: session_id "5" */
    0x3a, 0x07, 0x0a, 0x01, '7', 0x12, 0x02, 0x08, 0x01, /* 7: {"7": {can_listen}} */
    0x4a, 0x09, 'w', 'e', 'b', 's', 'o', 'c', 'k', 'e', 't', /* 9 */
  };
  /* clang-format on */
  Confab__HealthPacket *h = confab__health_packet__unpack (NULL, sizeof health, health);

  g_assert_nonnull (h);
  g_assert_cmpstr (h->session_id, ==, "5");
  g_assert_cmpuint (h->n_peer_stats, ==, 1);
  g_assert_cmpstr (h->peer_stats[0]->key, ==, "7");
  g_assert_true (h->peer_stats[0]->value->can_listen);
  g_assert_cmpstr (h->active_server_type, ==, "websocket");
  confab__health_packet__free_unpacked (h, NULL);
}

/* DiagnosticsPacket.media_type (5) uses MediaPacket.MediaType numbers. */
static void
test_diagnostics_packet (void)
{
  /* clang-format off */
  static const guint8 diag[] = {
    0x12, 0x02, '4', '2', /* 2: sender_id "42" */
    0x28, 0x01,           /* 5: VIDEO */
    0x32, 0x02, 0x10, 0x64, /* 6: {bitrate_kbps 100} */
  };
  /* clang-format on */
  Confab__DiagnosticsPacket *d = confab__diagnostics_packet__unpack (NULL, sizeof diag, diag);

  g_assert_nonnull (d);
  g_assert_cmpstr (d->sender_id, ==, "42");
  g_assert_cmpint (d->media_type, ==, CONFAB_MEDIA_VIDEO);
  g_assert_cmpuint (d->video_metrics->bitrate_kbps, ==, 100);
  confab__diagnostics_packet__free_unpacked (d, NULL);
}

/* SESSION_ASSIGNED as PROTOCOL.md §4.1: type 8, system identity, session id, no data. */
static void
test_session_assigned (void)
{
  g_autoptr (GBytes) packed = confab_packet_new_session_assigned (0x1234);
  GByteArray *expected = g_byte_array_new ();
  static const guint8 head[] = { 0x08, 0x08, 0x12, 0x0e };
  static const guint8 tail[] = { 0x20, 0xb4, 0x24 };

  g_byte_array_append (expected, head, sizeof head);
  g_byte_array_append (expected, (const guint8 *) CONFAB_SYSTEM_USER_ID,
                       strlen (CONFAB_SYSTEM_USER_ID));
  g_byte_array_append (expected, tail, sizeof tail);
  assert_bytes_equal (packed, expected->data, expected->len);
  g_byte_array_unref (expected);
}

/* Upstream may add fields; a Confab peer must not choke on them. */
static void
test_unknown_fields_tolerated (void)
{
  guint8 buf[sizeof wrapper_bytes + 3];
  Confab__PacketWrapper *w;

  memcpy (buf, wrapper_bytes, sizeof wrapper_bytes);
  /* field 100 varint 1: tag (100 << 3) = 800 = 0xa0 0x06 */
  buf[sizeof wrapper_bytes] = 0xa0;
  buf[sizeof wrapper_bytes + 1] = 0x06;
  buf[sizeof wrapper_bytes + 2] = 0x01;
  w = confab__packet_wrapper__unpack (NULL, sizeof buf, buf);
  g_assert_nonnull (w);
  g_assert_cmpuint (w->session_id, ==, 300);
  confab__packet_wrapper__free_unpacked (w, NULL);
}

static void
test_truncated_rejected (void)
{
  for (gsize len = 1; len < sizeof wrapper_bytes; len++)
    {
      /* Cuts inside a field fail; cuts exactly between fields are valid prefixes. */
      Confab__PacketWrapper *w = confab__packet_wrapper__unpack (NULL, len, wrapper_bytes);
      gboolean at_boundary = (len == 2 || len == 9 || len == 14);
      if (at_boundary)
        g_assert_nonnull (w);
      else
        g_assert_null (w);
      if (w != NULL)
        confab__packet_wrapper__free_unpacked (w, NULL);
    }
}

static void
test_arena_unpack (void)
{
  g_autoptr (ConfabArena) arena = confab_arena_new (64);
  g_autofree guint8 *big = g_malloc (100000);
  g_autoptr (GBytes) packed = NULL;
  gsize len;
  const guint8 *data;

  memset (big, 0x5a, 100000);
  packed = confab_packet_wrap (CONFAB_PACKET_MEDIA, "alice", 1, big, 100000);
  data = g_bytes_get_data (packed, &len);
  /* The first round overflows the small arena; later rounds fit after it grows. */
  for (int round = 0; round < 3; round++)
    {
      Confab__PacketWrapper *w =
          confab__packet_wrapper__unpack (confab_arena_allocator (arena), len, data);
      g_assert_nonnull (w);
      g_assert_cmpuint (w->data.len, ==, 100000);
      g_assert_cmpint (w->data.data[99999], ==, 0x5a);
      confab_arena_reset (arena);
    }
}

static void
test_names (void)
{
  g_autofree char *normalized = confab_name_normalize ("team stand up");
  g_autofree char *too_long = g_strnfill (CONFAB_MAX_NAME_LENGTH + 1, 'a');
  g_autofree char *longest = g_strnfill (CONFAB_MAX_NAME_LENGTH, 'a');

  g_assert_cmpstr (normalized, ==, "team_stand_up");
  g_assert_true (confab_name_is_valid (normalized));
  g_assert_true (confab_name_is_valid ("Alice-01_x"));
  g_assert_true (confab_name_is_valid (longest));
  g_assert_false (confab_name_is_valid (too_long));
  g_assert_false (confab_name_is_valid (""));
  g_assert_false (confab_name_is_valid (NULL));
  g_assert_false (confab_name_is_valid ("a b"));
  g_assert_false (confab_name_is_valid ("room.*"));
  g_assert_false (confab_name_is_valid ("room>"));
  g_assert_false (confab_name_is_valid ("../x"));
  g_assert_false (confab_name_is_valid (CONFAB_SYSTEM_USER_ID));
  g_assert_false (confab_name_is_valid ("caf\xc3\xa9"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proto/wrapper/decode", test_wrapper_decode);
  g_test_add_func ("/proto/wrapper/encode", test_wrapper_encode);
  g_test_add_func ("/proto/enums", test_packet_type_numbers);
  g_test_add_func ("/proto/media/round-trip", test_media_round_trip);
  g_test_add_func ("/proto/media/metadata", test_audio_and_heartbeat_metadata);
  g_test_add_func ("/proto/meeting", test_meeting_packet);
  g_test_add_func ("/proto/health/map", test_health_map);
  g_test_add_func ("/proto/diagnostics", test_diagnostics_packet);
  g_test_add_func ("/proto/session-assigned", test_session_assigned);
  g_test_add_func ("/proto/unknown-fields", test_unknown_fields_tolerated);
  g_test_add_func ("/proto/truncated", test_truncated_rejected);
  g_test_add_func ("/proto/arena", test_arena_unpack);
  g_test_add_func ("/proto/names", test_names);
  return g_test_run ();
}
