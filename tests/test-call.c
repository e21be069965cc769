/* test-call.c: the call logic without a network: RTT averaging, per-peer gap
 * tracking and keyframe-request pacing, and ConfabCall fed through a mock
 * transport (a ConfabTransport subclass that records what is sent and lets
 * the test inject what the relay would deliver). */
#define G_LOG_DOMAIN "test-call"

#include "confab-audio-encoder.h"
#include "confab-call.h"
#include "confab-media-sender.h"
#include "confab-packet.h"
#include "confab-peer-private.h"
#include "confab-rtt.h"
#include "confab-test-source.h"
#include "confab-video-decoder.h"

#include <string.h>

/* ---- mock transport ----------------------------------------------------------- */

#define TEST_TYPE_MOCK_TRANSPORT (test_mock_transport_get_type ())
G_DECLARE_FINAL_TYPE (TestMockTransport, test_mock_transport, TEST, MOCK_TRANSPORT, ConfabTransport)

struct _TestMockTransport
{
  ConfabTransport parent_instance;
  GPtrArray *sent; /* GBytes */
};

G_DEFINE_FINAL_TYPE (TestMockTransport, test_mock_transport, CONFAB_TYPE_TRANSPORT)

static void
mock_open (ConfabTransport *transport)
{
  confab_transport_emit_connected (transport);
}

static gboolean
mock_send (ConfabTransport *transport, GBytes *packet)
{
  g_ptr_array_add (TEST_MOCK_TRANSPORT (transport)->sent, g_bytes_ref (packet));
  return TRUE;
}

static void
mock_close (ConfabTransport *transport)
{
  confab_transport_emit_closed (transport, NULL);
}

static void
mock_finalize (GObject *object)
{
  g_ptr_array_unref (TEST_MOCK_TRANSPORT (object)->sent);
  G_OBJECT_CLASS (test_mock_transport_parent_class)->finalize (object);
}

static void
test_mock_transport_class_init (TestMockTransportClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mock_finalize;
  CONFAB_TRANSPORT_CLASS (klass)->open = mock_open;
  CONFAB_TRANSPORT_CLASS (klass)->send = mock_send;
  CONFAB_TRANSPORT_CLASS (klass)->close = mock_close;
}

static void
test_mock_transport_init (TestMockTransport *self)
{
  self->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

/* ---- helpers ------------------------------------------------------------------ */

static GBytes *
media_packet (guint64 session_id, const char *from, ConfabMediaPacket *media)
{
  g_autoptr (GBytes) inner = confab_message_pack (&media->base);
  gsize len;
  const guint8 *data = g_bytes_get_data (inner, &len);

  return confab_packet_wrap (CONFAB_PACKET_MEDIA, from, session_id, data, len);
}

static GBytes *
video_packet (guint64 session_id, const char *from, guint64 sequence, gboolean key)
{
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  Confab__VideoMetadata metadata = CONFAB__VIDEO_METADATA__INIT;

  media.media_type = CONFAB_MEDIA_VIDEO;
  media.user_id.data = (guint8 *) from;
  media.user_id.len = strlen (from);
  media.data.data = (guint8 *) "frame";
  media.data.len = 5;
  media.frame_type = (char *) (key ? "key" : "delta");
  metadata.sequence = sequence;
  metadata.codec = CONFAB__VIDEO_CODEC__VP9_PROFILE0_LEVEL10_8BIT;
  media.video_metadata = &metadata;
  return media_packet (session_id, from, &media);
}

static void
free_media (gpointer media)
{
  confab__media_packet__free_unpacked (media, NULL);
}

/* The MediaPackets the call sent, of @type, unpacked (free with the array). */
static GPtrArray *
sent_media (TestMockTransport *mock, int type, const char *expect_user)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (free_media);

  for (guint i = 0; i < mock->sent->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (mock->sent, i), &len);
      ConfabPacketWrapper *wrapper = confab__packet_wrapper__unpack (NULL, len, data);
      ConfabMediaPacket *media;

      g_assert_nonnull (wrapper);
      g_assert_cmpint (wrapper->packet_type, ==, CONFAB_PACKET_MEDIA);
      /* PacketWrapper.user_id is ours on everything. */
      g_assert_cmpmem (wrapper->user_id.data, wrapper->user_id.len, expect_user,
                       strlen (expect_user));
      media = confab__media_packet__unpack (NULL, wrapper->data.len, wrapper->data.data);
      g_assert_nonnull (media);
      confab__packet_wrapper__free_unpacked (wrapper, NULL);
      if ((int) media->media_type == type)
        g_ptr_array_add (out, media);
      else
        confab__media_packet__free_unpacked (media, NULL);
    }
  return out;
}

/* ---- RTT and peer rules ---------------------------------------------------------- */

static void
test_rtt_average (void)
{
  ConfabRtt rtt;

  confab_rtt_init (&rtt);
  g_assert_cmpfloat (confab_rtt_average (&rtt), ==, -1);
  g_assert_false (confab_rtt_add (&rtt, -1));
  g_assert_false (confab_rtt_add (&rtt, 10000.5));
  g_assert_false (confab_rtt_add (&rtt, 0.0 / 0.0));
  g_assert_true (confab_rtt_add (&rtt, 0));
  g_assert_true (confab_rtt_add (&rtt, 10));
  g_assert_cmpfloat (confab_rtt_average (&rtt), ==, 5);
  /* Only the last 10 count: ten samples of 100 push the early ones out. */
  for (int i = 0; i < 10; i++)
    confab_rtt_add (&rtt, 100);
  g_assert_cmpfloat (confab_rtt_average (&rtt), ==, 100);
  confab_rtt_add (&rtt, 10000);
  g_assert_cmpfloat (confab_rtt_average (&rtt), ==, (9 * 100 + 10000) / 10.0);
}

static void
test_peer_gap_and_keyframe_pacing (void)
{
  g_autoptr (ConfabPeer) peer = confab_peer_new (7, 0);
  gint64 s = G_USEC_PER_SEC;

  confab_peer_on_video (peer, TRUE, 1, TRUE, 0);
  confab_peer_on_video (peer, TRUE, 2, FALSE, 0);
  g_assert_false (confab_peer_is_waiting_for_keyframe (peer));
  g_assert_false (confab_peer_take_keyframe_request (peer, 10 * s));

  /* Frames 3 and 4 lost. */
  confab_peer_on_video (peer, TRUE, 5, FALSE, 1 * s);
  g_assert_cmpuint (confab_peer_get_video_gaps (peer), ==, 1);
  g_assert_true (confab_peer_is_waiting_for_keyframe (peer));
  /* Not before 1 s without a key frame... */
  g_assert_false (confab_peer_take_keyframe_request (peer, 1 * s + s / 2));
  /* ...then once, and again no sooner than 500 ms later. */
  g_assert_true (confab_peer_take_keyframe_request (peer, 2 * s));
  g_assert_false (confab_peer_take_keyframe_request (peer, 2 * s + s / 5));
  g_assert_false (confab_peer_take_keyframe_request (peer, 2 * s + s / 2 - 1));
  g_assert_true (confab_peer_take_keyframe_request (peer, 2 * s + s / 2));
  g_assert_cmpuint (confab_peer_get_keyframe_requests_sent (peer), ==, 2);

  /* A second gap while still waiting counts, but does not restart the clock. */
  confab_peer_on_video (peer, TRUE, 8, FALSE, 3 * s);
  g_assert_cmpuint (confab_peer_get_video_gaps (peer), ==, 2);
  g_assert_true (confab_peer_take_keyframe_request (peer, 3 * s));

  /* The key frame repairs it: no more requests. */
  confab_peer_on_video (peer, TRUE, 9, TRUE, 4 * s);
  g_assert_false (confab_peer_is_waiting_for_keyframe (peer));
  g_assert_false (confab_peer_take_keyframe_request (peer, 10 * s));

  /* Late and duplicate frames are no gaps. */
  confab_peer_on_video (peer, TRUE, 10, FALSE, 11 * s);
  confab_peer_on_video (peer, TRUE, 10, FALSE, 11 * s);
  confab_peer_on_video (peer, TRUE, 4, FALSE, 11 * s);
  confab_peer_on_video (peer, TRUE, 11, FALSE, 11 * s);
  g_assert_cmpuint (confab_peer_get_video_gaps (peer), ==, 2);
  g_assert_cmpuint (confab_peer_get_video_frames (peer), ==, 9);
  g_assert_cmpuint (confab_peer_get_video_keyframes (peer), ==, 2);
}

static void
test_peer_joined_mid_stream (void)
{
  g_autoptr (ConfabPeer) peer = confab_peer_new (7, 0);

  /* Deltas without their key frame cannot be decoded: ask after 1 s. */
  confab_peer_on_video (peer, TRUE, 40, FALSE, 0);
  confab_peer_on_video (peer, TRUE, 41, FALSE, G_USEC_PER_SEC / 2);
  g_assert_true (confab_peer_is_waiting_for_keyframe (peer));
  g_assert_cmpuint (confab_peer_get_video_gaps (peer), ==, 0);
  g_assert_false (confab_peer_take_keyframe_request (peer, G_USEC_PER_SEC / 2));
  g_assert_true (confab_peer_take_keyframe_request (peer, G_USEC_PER_SEC));
}

static void
test_peer_silence_and_heartbeats (void)
{
  g_autoptr (ConfabPeer) peer = confab_peer_new (7, 0);

  g_assert_false (confab_peer_is_silent (peer, 15 * G_USEC_PER_SEC));
  g_assert_true (confab_peer_is_silent (peer, 15 * G_USEC_PER_SEC + 1));
  confab_peer_touch (peer, 10 * G_USEC_PER_SEC);
  g_assert_false (confab_peer_is_silent (peer, 20 * G_USEC_PER_SEC));

  confab_peer_on_heartbeat (peer, TRUE, FALSE, FALSE, FALSE);
  confab_peer_on_heartbeat (peer, FALSE, FALSE, FALSE, FALSE);
  g_assert_false (confab_peer_get_video_enabled (peer));
  g_assert_true (confab_peer_ever_video_enabled (peer));
  g_assert_false (confab_peer_ever_audio_enabled (peer));
}

/* ---- ConfabCall through the mock transport --------------------------------------- */

static void
count_signal (gpointer instance, gpointer arg, gpointer data)
{
  (*(guint *) data)++;
}

typedef struct
{
  guint count;
  int last_type;
  gboolean last_key;
  guint64 last_sequence;
  gsize last_size;
} MediaSeen;

static void
on_media (ConfabCall *call,
          ConfabPeer *peer,
          int type,
          GBytes *data,
          gboolean is_key,
          guint64 sequence,
          double timestamp,
          MediaSeen *seen)
{
  g_assert_true (CONFAB_IS_PEER (peer));
  seen->count++;
  seen->last_type = type;
  seen->last_key = is_key;
  seen->last_sequence = sequence;
  seen->last_size = g_bytes_get_size (data);
}

static void
test_call_flow (void)
{
  g_autoptr (TestMockTransport) mock =
      g_object_new (TEST_TYPE_MOCK_TRANSPORT, "kind", "mock", NULL);
  g_autoptr (ConfabCall) call = confab_call_new (CONFAB_TRANSPORT (mock), "alice");
  g_autoptr (GPtrArray) probes = NULL;
  g_autoptr (GPtrArray) heartbeats = NULL;
  g_autoptr (GPtrArray) video = NULL;
  g_autoptr (GPtrArray) audio = NULL;
  g_autoptr (GBytes) assigned = confab_packet_new_session_assigned (42);
  guint joined = 0, keyframe_requested = 0;
  MediaSeen seen = { 0 };
  ConfabEncodedFrame frame = { .data = (const guint8 *) "vp9!", .size = 4, .is_key = TRUE };
  ConfabPeer *bob;

  g_signal_connect (call, "peer-joined", G_CALLBACK (count_signal), &joined);
  g_signal_connect (call, "keyframe-requested", G_CALLBACK (count_signal), &keyframe_requested);
  g_signal_connect (call, "media", G_CALLBACK (on_media), &seen);
  confab_call_set_media_state (call, TRUE, TRUE);

  /* Before a session nothing but RTT probes goes out. */
  confab_call_start (call);
  g_assert_false (confab_call_send_video (call, CONFAB_VIDEO_CODEC_VP9, &frame));
  probes = sent_media (mock, CONFAB_MEDIA_RTT, "alice");
  g_assert_cmpuint (probes->len, ==, 1);
  g_assert_cmpuint (mock->sent->len, ==, 1);

  /* The relay echoes the probe unchanged: an RTT sample. */
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), g_ptr_array_index (mock->sent, 0));
  g_assert_cmpfloat (confab_call_get_rtt_ms (call), >=, 0);
  g_assert_cmpfloat (confab_call_get_rtt_ms (call), <, 1000);

  /* SESSION_ASSIGNED: our id, and a heartbeat at once (it activates us). */
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), assigned);
  g_assert_cmpuint (confab_call_get_session_id (call), ==, 42);
  heartbeats = sent_media (mock, CONFAB_MEDIA_HEARTBEAT, "alice");
  g_assert_cmpuint (heartbeats->len, ==, 1);
  {
    ConfabMediaPacket *hb = g_ptr_array_index (heartbeats, 0);
    g_assert_nonnull (hb->heartbeat_metadata);
    g_assert_true (hb->heartbeat_metadata->video_enabled);
    g_assert_true (hb->heartbeat_metadata->audio_enabled);
    /* Epoch milliseconds. */
    g_assert_cmpfloat (hb->timestamp, >, 1.6e12);
  }

  /* Video and audio: numbered from 1, +1 each, with codec and frame type. */
  g_assert_true (confab_call_send_video (call, CONFAB_VIDEO_CODEC_VP9, &frame));
  frame.is_key = FALSE;
  g_assert_true (confab_call_send_video (call, CONFAB_VIDEO_CODEC_VP9, &frame));
  g_assert_true (confab_call_send_audio (call, (const guint8 *) "opus", 4));
  g_assert_true (confab_call_send_audio (call, (const guint8 *) "opus", 4));
  video = sent_media (mock, CONFAB_MEDIA_VIDEO, "alice");
  audio = sent_media (mock, CONFAB_MEDIA_AUDIO, "alice");
  g_assert_cmpuint (video->len, ==, 2);
  g_assert_cmpuint (audio->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      ConfabMediaPacket *v = g_ptr_array_index (video, i);
      ConfabMediaPacket *a = g_ptr_array_index (audio, i);

      g_assert_cmpstr (v->frame_type, ==, i == 0 ? "key" : "delta");
      g_assert_cmpuint (v->video_metadata->sequence, ==, i + 1);
      g_assert_cmpint (v->video_metadata->codec, ==,
                       CONFAB__VIDEO_CODEC__VP9_PROFILE0_LEVEL10_8BIT);
      g_assert_cmpmem (v->user_id.data, v->user_id.len, "alice", 5);
      g_assert_cmpfloat (v->timestamp, >, 1.6e15); /* epoch microseconds */
      g_assert_cmpstr (a->frame_type, ==, "key");
      g_assert_cmpstr (a->audio_metadata->audio_format, ==, "opus");
      g_assert_cmpuint (a->audio_metadata->sequence, ==, i + 1);
      g_assert_cmpuint (a->audio_metadata->audio_number_of_channels, ==, 1);
      g_assert_cmpuint (a->audio_metadata->audio_number_of_frames, ==, 960);
      g_assert_cmpfloat (a->audio_metadata->audio_sample_rate, ==, 48000);
    }
  g_assert_cmpuint (confab_call_get_sent_video_frames (call), ==, 2);
  g_assert_cmpuint (confab_call_get_sent_audio_packets (call), ==, 2);

  /* A peer's media, keyed by session id; our own, session 0 and the system
   * identity are not peers. */
  {
    g_autoptr (GBytes) v1 = video_packet (7, "bob", 1, TRUE);
    g_autoptr (GBytes) v3 = video_packet (7, "bob", 3, FALSE);
    g_autoptr (GBytes) own = video_packet (42, "alice", 1, TRUE);
    g_autoptr (GBytes) zero = video_packet (0, "carol", 1, TRUE);
    g_autoptr (GBytes) system = video_packet (9, CONFAB_SYSTEM_USER_ID, 1, TRUE);
    g_autoptr (GBytes) garbage = g_bytes_new_static ("\xff\xff\xff\xff", 4);

    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), v1);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), v3);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), own);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), zero);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), system);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), garbage);
  }
  g_assert_cmpuint (confab_call_get_peers (call)->len, ==, 1);
  g_assert_cmpuint (joined, ==, 1);
  bob = confab_call_lookup_peer (call, 7);
  g_assert_nonnull (bob);
  g_assert_cmpstr (confab_peer_get_user_id (bob), ==, "bob");
  g_assert_cmpuint (confab_peer_get_video_frames (bob), ==, 2);
  g_assert_cmpuint (confab_peer_get_video_keyframes (bob), ==, 1);
  g_assert_cmpuint (confab_peer_get_video_gaps (bob), ==, 1);
  /* "media" carries each of bob's frames to a decoder; not ours or the system's. */
  g_assert_cmpuint (seen.count, ==, 2);
  g_assert_cmpint (seen.last_type, ==, CONFAB_MEDIA_VIDEO);
  g_assert_false (seen.last_key);
  g_assert_cmpuint (seen.last_sequence, ==, 3);
  g_assert_cmpuint (seen.last_size, ==, 5);

  /* Keyframe requests: honoured only when addressed to us. */
  {
    ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
    g_autoptr (GBytes) to_us = NULL;
    g_autoptr (GBytes) to_other = NULL;

    media.media_type = CONFAB_MEDIA_KEYFRAME_REQUEST;
    media.data.data = (guint8 *) "VIDEO";
    media.data.len = 5;
    media.user_id.data = (guint8 *) "carol";
    media.user_id.len = 5;
    to_other = media_packet (7, "bob", &media);
    media.user_id.data = (guint8 *) "alice";
    to_us = media_packet (7, "bob", &media);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), to_other);
    g_assert_cmpuint (keyframe_requested, ==, 0);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), to_us);
    g_assert_cmpuint (keyframe_requested, ==, 1);
  }

  /* Audio without metadata is dropped (PROTOCOL.md §5). */
  {
    ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
    g_autoptr (GBytes) bare = NULL;

    media.media_type = CONFAB_MEDIA_AUDIO;
    bare = media_packet (7, "bob", &media);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), bare);
    g_assert_cmpuint (confab_peer_get_audio_packets (bob), ==, 0);
  }

  /* PARTICIPANT_LEFT: gone, but still listed with its counts. */
  {
    ConfabMeetingPacket meeting = CONFAB__MEETING_PACKET__INIT;
    g_autoptr (GBytes) left = NULL;

    meeting.event_type = CONFAB_MEETING_PARTICIPANT_LEFT;
    meeting.session_id = 7;
    left = confab_packet_new_meeting (&meeting);
    confab_transport_emit_packet (CONFAB_TRANSPORT (mock), left);
    g_assert_false (confab_peer_is_present (bob));
    g_assert_cmpuint (confab_call_get_peers (call)->len, ==, 1);
  }
}

static gboolean
on_done (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_call_sends_keyframe_request (void)
{
  g_autoptr (TestMockTransport) mock =
      g_object_new (TEST_TYPE_MOCK_TRANSPORT, "kind", "mock", NULL);
  g_autoptr (ConfabCall) call = confab_call_new (CONFAB_TRANSPORT (mock), "alice");
  g_autoptr (GBytes) assigned = confab_packet_new_session_assigned (42);
  g_autoptr (GBytes) v1 = video_packet (7, "bob", 1, TRUE);
  g_autoptr (GBytes) v5 = video_packet (7, "bob", 5, FALSE);
  g_autoptr (GPtrArray) requests = NULL;
  gboolean done = FALSE;
  ConfabMediaPacket *request;

  confab_call_start (call);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), assigned);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), v1);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), v5);

  /* The call's own 1 s timer sends the request once the gap is 1 s old;
   * run its main loop for 2.2 s (bounded) and look at what went out. */
  {
    guint id = g_timeout_add (2200, on_done, &done);
    while (!done)
      g_main_context_iteration (NULL, TRUE);
    (void) id;
  }

  requests = sent_media (mock, CONFAB_MEDIA_KEYFRAME_REQUEST, "alice");
  /* One per timer tick at most (500 ms pacing), at least one after 1 s. */
  g_assert_cmpuint (requests->len, >=, 1);
  g_assert_cmpuint (requests->len, <=, 2);
  request = g_ptr_array_index (requests, 0);
  /* Addressed by the target's user id, asking for VIDEO. */
  g_assert_cmpmem (request->user_id.data, request->user_id.len, "bob", 3);
  g_assert_cmpmem (request->data.data, request->data.len, "VIDEO", 5);
}

/* ---- receiving media: jitter buffers and decoders per peer --------------------- */

static GBytes *
real_video_packet (guint64 session_id, const ConfabEncodedFrame *frame, guint64 sequence)
{
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  Confab__VideoMetadata metadata = CONFAB__VIDEO_METADATA__INIT;

  media.media_type = CONFAB_MEDIA_VIDEO;
  media.user_id.data = (guint8 *) "bob";
  media.user_id.len = 3;
  media.data.data = (guint8 *) frame->data;
  media.data.len = frame->size;
  media.frame_type = (char *) (frame->is_key ? "key" : "delta");
  media.timestamp = (double) frame->pts_us;
  metadata.sequence = sequence;
  metadata.codec = CONFAB__VIDEO_CODEC__VP9_PROFILE0_LEVEL10_8BIT;
  media.video_metadata = &metadata;
  return media_packet (session_id, "bob", &media);
}

static GBytes *
audio_packet (guint64 session_id, const guint8 *opus, gsize len, guint64 sequence)
{
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  Confab__AudioMetadata metadata = CONFAB__AUDIO_METADATA__INIT;

  media.media_type = CONFAB_MEDIA_AUDIO;
  media.user_id.data = (guint8 *) "bob";
  media.user_id.len = 3;
  media.data.data = (guint8 *) opus;
  media.data.len = len;
  media.frame_type = (char *) "key";
  metadata.sequence = sequence;
  media.audio_metadata = &metadata;
  return media_packet (session_id, "bob", &media);
}

typedef struct
{
  ConfabVideoEncoder *encoder;
  ConfabTestPattern *pattern;
  GPtrArray *sources; /* ConfabVideoFrame by sequence - 1 */
  guint64 next;
} Sender;

/* Encodes the next picture and returns its packet (sequence = frame number). */
static GBytes *
sender_next (Sender *sender, gboolean force_key)
{
  g_autoptr (GError) error = NULL;
  ConfabVideoFrame *source;
  ConfabEncodedFrame encoded;
  guint64 sequence = ++sender->next;

  source = confab_test_pattern_next (sender->pattern, sequence, (gint64) sequence * 33333);
  g_ptr_array_add (sender->sources, source);
  if (force_key)
    confab_video_encoder_request_keyframe (sender->encoder);
  g_assert_true (confab_video_encoder_encode (sender->encoder, source, &encoded, &error));
  g_assert_no_error (error);
  return real_video_packet (7, &encoded, sequence);
}

static void
deliver (TestMockTransport *mock, GBytes *packet)
{
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), packet);
  g_bytes_unref (packet);
}

static void
run_loop_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_call_receives_media (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TestMockTransport) mock =
      g_object_new (TEST_TYPE_MOCK_TRANSPORT, "kind", "mock", NULL);
  g_autoptr (ConfabCall) call = confab_call_new (CONFAB_TRANSPORT (mock), "alice");
  g_autoptr (GBytes) assigned = confab_packet_new_session_assigned (42);
  g_autoptr (ConfabAudioEncoder) opus = confab_audio_encoder_new (0, &error);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (300, 48000, 0.3);
  Sender sender = { 0 };
  guint pictures = 0;
  ConfabPeer *bob;
  ConfabVideoJitterStats stats;

  sender.encoder = confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP9, 320, 180, 30, 0, 1, &error);
  g_assert_no_error (error);
  sender.pattern = confab_test_pattern_new (320, 180);
  sender.sources = g_ptr_array_new_with_free_func ((GDestroyNotify) confab_video_frame_unref);

  g_signal_connect (call, "video-frame", G_CALLBACK (count_signal), &pictures);
  confab_call_set_receive_media (call, TRUE, TRUE);
  confab_call_start (call);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), assigned);

  /* Frames 1-10 in order: each decodes into bob's slot at once. */
  for (int i = 0; i < 10; i++)
    deliver (mock, sender_next (&sender, FALSE));
  bob = confab_call_lookup_peer (call, 7);
  g_assert_nonnull (bob);
  g_assert_cmpuint (pictures, ==, 10);
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (bob), ==, 10);
  {
    /* Latest frame wins: the renderer took none, so it gets frame 10 only. */
    g_autoptr (ConfabVideoFrame) picture = confab_peer_take_video_frame (bob);
    g_assert_nonnull (picture);
    g_assert_cmpint (picture->width, ==, 320);
    g_assert_cmpint (picture->height, ==, 180);
    g_assert_cmpint (picture->pts_us, ==, 10 * 33333);
    g_assert_cmpfloat (confab_video_frame_psnr_y (g_ptr_array_index (sender.sources, 9), picture),
                       >=, 25.0);
    g_assert_null (confab_peer_take_video_frame (bob));
    g_assert_cmpuint (confab_peer_get_video_frames_skipped (bob), ==, 9);
  }

  /* Frames 12 and 13 overtake 11 (two WebTransport streams): held, then all
   * three decode in order when 11 arrives. Encoded first: the hole may be
   * held only 40 ms of wall time, and encoding under valgrind is slower. */
  {
    GBytes *f11 = sender_next (&sender, FALSE);
    GBytes *f12 = sender_next (&sender, FALSE);
    GBytes *f13 = sender_next (&sender, FALSE);

    deliver (mock, f12);
    deliver (mock, f13);
    g_assert_cmpuint (confab_peer_get_decoded_video_frames (bob), ==, 10);
    deliver (mock, f11);
    g_assert_cmpuint (confab_peer_get_decoded_video_frames (bob), ==, 13);
    g_assert_false (confab_peer_is_waiting_for_keyframe (bob));
  }

  /* Frame 14 is lost. 15 waits 40 ms (the call's own timer), then the hole
   * counts: nothing decodes until a key frame, which is asked for after 1 s. */
  {
    GBytes *f15;

    g_bytes_unref (sender_next (&sender, FALSE));
    f15 = sender_next (&sender, FALSE);
    deliver (mock, f15);
    g_assert_false (confab_peer_is_waiting_for_keyframe (bob));
  }
  run_loop_for (100);
  g_assert_true (confab_peer_is_waiting_for_keyframe (bob));
  deliver (mock, sender_next (&sender, FALSE));
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (bob), ==, 13);
  g_assert_true (confab_peer_get_video_jitter_stats (bob, &stats));
  g_assert_cmpuint (stats.gaps, ==, 1);
  g_assert_false (confab_peer_take_keyframe_request (bob, g_get_monotonic_time ()));
  g_assert_true (confab_peer_take_keyframe_request (bob, g_get_monotonic_time () + G_USEC_PER_SEC));
  /* The requested key frame repairs the picture. */
  deliver (mock, sender_next (&sender, TRUE));
  g_assert_false (confab_peer_is_waiting_for_keyframe (bob));
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (bob), ==, 14);
  deliver (mock, sender_next (&sender, FALSE));
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (bob), ==, 15);

  /* A frame the decoder refuses also waits for (and asks for) a key frame. */
  {
    ConfabEncodedFrame junk = { .data = (const guint8 *) "not a vp9 frame",
                                .size = 15,
                                .is_key = FALSE };
    deliver (mock, real_video_packet (7, &junk, ++sender.next));
    g_assert_cmpuint (confab_peer_get_video_decode_errors (bob), ==, 1);
    g_assert_true (confab_peer_is_waiting_for_keyframe (bob));
  }

  /* The next key frame repairs it, even with a timestamp that is not a number. */
  {
    g_autoptr (GError) encode_error = NULL;
    g_autoptr (ConfabVideoFrame) source = confab_test_pattern_next (sender.pattern, 99, 0);
    g_autoptr (ConfabVideoFrame) picture = NULL;
    ConfabEncodedFrame encoded;

    confab_video_encoder_request_keyframe (sender.encoder);
    g_assert_true (confab_video_encoder_encode (sender.encoder, source, &encoded, &encode_error));
    g_assert_no_error (encode_error);
    encoded.pts_us = 0;
    {
      GBytes *packet = real_video_packet (7, &encoded, ++sender.next);
      gsize len;
      const guint8 *data = g_bytes_get_data (packet, &len);
      ConfabPacketWrapper *wrapper = confab__packet_wrapper__unpack (NULL, len, data);
      ConfabMediaPacket *media =
          confab__media_packet__unpack (NULL, wrapper->data.len, wrapper->data.data);

      /* Re-pack with timestamp = NaN. */
      media->timestamp = 0.0 / 0.0;
      g_bytes_unref (packet);
      packet = media_packet (7, "bob", media);
      confab__media_packet__free_unpacked (media, NULL);
      confab__packet_wrapper__free_unpacked (wrapper, NULL);
      deliver (mock, packet);
    }
    g_assert_false (confab_peer_is_waiting_for_keyframe (bob));
    picture = confab_peer_take_video_frame (bob);
    g_assert_nonnull (picture);
    g_assert_cmpint (picture->pts_us, ==, 0);
  }

  /* Audio goes into bob's jitter buffer, ready for the mixer's 20 ms pulls. */
  for (guint64 seq = 1; seq <= 10; seq++)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      guint8 packet[CONFAB_AUDIO_MAX_PACKET];
      gssize len;

      confab_tone_source_fill (tone, pcm, G_N_ELEMENTS (pcm));
      len = confab_audio_encoder_encode (opus, pcm, packet, sizeof packet, &error);
      g_assert_no_error (error);
      deliver (mock, audio_packet (7, packet, (gsize) len, seq));
    }
  {
    ConfabAudioJitterBuffer *jb = confab_peer_get_audio_jitter_buffer (bob);
    ConfabAudioJitterStats audio;
    gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];

    g_assert_nonnull (jb);
    g_assert_cmpint (confab_audio_jitter_buffer_pull (jb, g_get_monotonic_time (), pcm), ==,
                     CONFAB_AUDIO_PLAYOUT_NORMAL);
    confab_audio_jitter_buffer_get_stats (jb, &audio);
    g_assert_cmpuint (audio.packets_received, ==, 10);
    g_assert_cmpuint (audio.last_sequence, ==, 1);
  }

  confab_video_encoder_free (sender.encoder);
  confab_test_pattern_free (sender.pattern);
  g_ptr_array_unref (sender.sources);
}

/* Voice activity goes out at once, only on a change, and never through a
 * muted microphone; a peer's is_speaking is kept from its heartbeats. */
static void
test_call_speaking (void)
{
  g_autoptr (TestMockTransport) mock =
      g_object_new (TEST_TYPE_MOCK_TRANSPORT, "kind", "mock", NULL);
  g_autoptr (ConfabCall) call = confab_call_new (CONFAB_TRANSPORT (mock), "alice");
  g_autoptr (GBytes) assigned = confab_packet_new_session_assigned (42);
  g_autoptr (GPtrArray) heartbeats = NULL;
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  Confab__HeartbeatMetadata hb = CONFAB__HEARTBEAT_METADATA__INIT;
  g_autoptr (GBytes) bob_hb = NULL;
  ConfabPeer *bob;

  confab_call_set_media_state (call, TRUE, TRUE);
  confab_call_start (call);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), assigned);
  confab_call_set_speaking (call, TRUE);
  confab_call_set_speaking (call, TRUE);
  confab_call_set_media_state (call, TRUE, FALSE);
  confab_call_set_speaking (call, FALSE);
  heartbeats = sent_media (mock, CONFAB_MEDIA_HEARTBEAT, "alice");
  /* Activation, speaking, muted, stopped speaking. */
  g_assert_cmpuint (heartbeats->len, ==, 4);
  g_assert_false (((ConfabMediaPacket *) heartbeats->pdata[0])->heartbeat_metadata->is_speaking);
  g_assert_true (((ConfabMediaPacket *) heartbeats->pdata[1])->heartbeat_metadata->is_speaking);
  g_assert_false (((ConfabMediaPacket *) heartbeats->pdata[2])->heartbeat_metadata->is_speaking);
  g_assert_false (((ConfabMediaPacket *) heartbeats->pdata[2])->heartbeat_metadata->audio_enabled);
  g_assert_false (confab_call_get_speaking (call));

  media.media_type = CONFAB_MEDIA_HEARTBEAT;
  media.user_id.data = (guint8 *) "bob";
  media.user_id.len = 3;
  hb.audio_enabled = TRUE;
  hb.is_speaking = TRUE;
  media.heartbeat_metadata = &hb;
  bob_hb = media_packet (7, "bob", &media);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), bob_hb);
  bob = confab_call_lookup_peer (call, 7);
  g_assert_nonnull (bob);
  g_assert_true (confab_peer_get_is_speaking (bob));
}

typedef struct
{
  TestMockTransport *mock;
  guint64 sequence;
  guint ticks;
  gboolean both_live; /* session 7 keeps sending too */
  GMainLoop *loop;
} SwitchFixture;

static gboolean
on_switch_tick (gpointer data)
{
  SwitchFixture *f = data;
  g_autoptr (GBytes) fresh = video_packet (8, "bob", f->sequence, f->sequence == 0);

  confab_transport_emit_packet (CONFAB_TRANSPORT (f->mock), fresh);
  if (f->both_live)
    {
      g_autoptr (GBytes) old = video_packet (7, "bob", 1000 + f->sequence, FALSE);

      confab_transport_emit_packet (CONFAB_TRANSPORT (f->mock), old);
    }
  f->sequence++;
  if (++f->ticks == 40) /* 4 s */
    {
      g_main_loop_quit (f->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* A user who moved to a new session (path switch, relay move, WebTransport
 * session retired: the relay announces no LEFT for those) is one
 * participant again within ~3 s, not two for the 15 s silence timeout; two
 * live sessions of one user both stay. */
static void
check_session_switch (gboolean both_live)
{
  g_autoptr (TestMockTransport) mock =
      g_object_new (TEST_TYPE_MOCK_TRANSPORT, "kind", "mock", NULL);
  g_autoptr (ConfabCall) call = confab_call_new (CONFAB_TRANSPORT (mock), "alice");
  g_autoptr (GBytes) assigned = confab_packet_new_session_assigned (42);
  g_autoptr (GBytes) first = video_packet (7, "bob", 0, TRUE);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  SwitchFixture f = { mock, 0, 0, both_live, loop };

  confab_call_start (call);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), assigned);
  confab_transport_emit_packet (CONFAB_TRANSPORT (mock), first);
  g_assert_true (confab_peer_is_present (confab_call_lookup_peer (call, 7)));
  g_timeout_add (100, on_switch_tick, &f); /* removes itself after 4 s */
  g_main_loop_run (loop);
  g_assert_true (confab_peer_is_present (confab_call_lookup_peer (call, 8)));
  g_assert_cmpint (confab_peer_is_present (confab_call_lookup_peer (call, 7)), ==, both_live);
  g_assert_cmpint (confab_peer_is_superseded (confab_call_lookup_peer (call, 7)), ==, !both_live);
}

static void
test_peer_session_switch (void)
{
  check_session_switch (FALSE);
}

static void
test_peer_two_live_sessions (void)
{
  check_session_switch (TRUE);
}

/* ---- ConfabMediaSender ------------------------------------------------------- */

/* The MediaPackets of @type the call sent from index @from on, any other
 * packet types skipped. */
static GPtrArray *
sent_media_from (TestMockTransport *mock, guint from, int type)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (free_media);

  for (guint i = from; i < mock->sent->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (mock->sent, i), &len);
      ConfabPacketWrapper *wrapper = confab__packet_wrapper__unpack (NULL, len, data);
      ConfabMediaPacket *media = NULL;

      g_assert_nonnull (wrapper);
      if (wrapper->packet_type == CONFAB_PACKET_MEDIA)
        media = confab__media_packet__unpack (NULL, wrapper->data.len, wrapper->data.data);
      confab__packet_wrapper__free_unpacked (wrapper, NULL);
      if (media == NULL)
        continue;
      if ((int) media->media_type == type)
        g_ptr_array_add (out, media);
      else
        confab__media_packet__free_unpacked (media, NULL);
    }
  return out;
}

typedef struct
{
  TestMockTransport *mock;
  ConfabCall *call;
  ConfabMediaSender *sender;
  ConfabTestPattern *pattern;
  gint64 pts;
} SenderFixture;

static void
sender_fixture_init (SenderFixture *f, int width, int height, int fps, gboolean adapt)
{
  g_autoptr (GBytes) assigned = confab_packet_new_session_assigned (42);
  ConfabMediaSenderConfig config = {
    .codec = CONFAB_VIDEO_CODEC_VP9,
    .max_width = width,
    .max_height = height,
    .max_fps = fps,
    .adapt = adapt,
  };

  f->mock = g_object_new (TEST_TYPE_MOCK_TRANSPORT, "kind", "mock", NULL);
  f->call = confab_call_new (CONFAB_TRANSPORT (f->mock), "alice");
  f->sender = confab_media_sender_new (f->call, &config);
  f->pattern = confab_test_pattern_new (1280, 720);
  f->pts = g_get_monotonic_time ();
  confab_call_start (f->call);
  confab_transport_emit_packet (CONFAB_TRANSPORT (f->mock), assigned);
}

static void
sender_fixture_clear (SenderFixture *f)
{
  g_clear_object (&f->sender);
  g_clear_object (&f->call);
  g_clear_object (&f->mock);
  g_clear_pointer (&f->pattern, confab_test_pattern_free);
}

/* @n 720p pictures 1/@fps apart, as a camera delivers them. */
static void
push_pictures (SenderFixture *f, guint n, int fps)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ConfabVideoFrame) frame = confab_test_pattern_next (f->pattern, i, f->pts);

      g_assert_true (confab_media_sender_push_video (f->sender, frame, &error));
      g_assert_no_error (error);
      /* Faster than real time: let the encoder thread take each picture
       * (it keeps only the newest waiting) and send it here. */
      g_assert_true (confab_media_sender_flush (f->sender));
      f->pts += G_USEC_PER_SEC / fps;
    }
}

static void
push_chunks (SenderFixture *f, guint n)
{
  gint16 samples[CONFAB_AUDIO_FRAME_SAMPLES] = { 0 };

  for (guint i = 0; i < n; i++)
    g_assert_true (confab_media_sender_push_audio (f->sender, samples, NULL));
}

/* Mute and camera-off stop that stream and say so in a heartbeat at once;
 * the camera comes back with a key frame. */
static void
test_sender_mute_and_camera_off (void)
{
  SenderFixture f = { 0 };
  g_autoptr (GPtrArray) video = NULL;
  g_autoptr (GPtrArray) audio = NULL;
  g_autoptr (GPtrArray) heartbeats = NULL;
  guint mark;

  sender_fixture_init (&f, 320, 180, 30, FALSE);
  push_pictures (&f, 3, 30);
  push_chunks (&f, 3);
  video = sent_media_from (f.mock, 0, CONFAB_MEDIA_VIDEO);
  audio = sent_media_from (f.mock, 0, CONFAB_MEDIA_AUDIO);
  g_assert_cmpuint (video->len, ==, 3);
  g_assert_cmpuint (audio->len, ==, 3);
  g_assert_cmpstr (((ConfabMediaPacket *) video->pdata[0])->frame_type, ==, "key");
  g_assert_cmpstr (((ConfabMediaPacket *) video->pdata[1])->frame_type, ==, "delta");

  mark = f.mock->sent->len;
  confab_media_sender_set_video_enabled (f.sender, FALSE);
  confab_media_sender_set_audio_enabled (f.sender, FALSE);
  push_pictures (&f, 3, 30);
  push_chunks (&f, 3);
  g_clear_pointer (&video, g_ptr_array_unref);
  g_clear_pointer (&audio, g_ptr_array_unref);
  video = sent_media_from (f.mock, mark, CONFAB_MEDIA_VIDEO);
  audio = sent_media_from (f.mock, mark, CONFAB_MEDIA_AUDIO);
  heartbeats = sent_media_from (f.mock, mark, CONFAB_MEDIA_HEARTBEAT);
  g_assert_cmpuint (video->len, ==, 0);
  g_assert_cmpuint (audio->len, ==, 0);
  g_assert_cmpuint (heartbeats->len, ==, 2);
  g_assert_false (((ConfabMediaPacket *) heartbeats->pdata[1])->heartbeat_metadata->video_enabled);
  g_assert_false (((ConfabMediaPacket *) heartbeats->pdata[1])->heartbeat_metadata->audio_enabled);

  mark = f.mock->sent->len;
  confab_media_sender_set_video_enabled (f.sender, TRUE);
  push_pictures (&f, 2, 30);
  g_clear_pointer (&video, g_ptr_array_unref);
  g_clear_pointer (&heartbeats, g_ptr_array_unref);
  video = sent_media_from (f.mock, mark, CONFAB_MEDIA_VIDEO);
  heartbeats = sent_media_from (f.mock, mark, CONFAB_MEDIA_HEARTBEAT);
  g_assert_cmpuint (heartbeats->len, ==, 1);
  g_assert_true (((ConfabMediaPacket *) heartbeats->pdata[0])->heartbeat_metadata->video_enabled);
  g_assert_cmpuint (video->len, ==, 2);
  g_assert_cmpstr (((ConfabMediaPacket *) video->pdata[0])->frame_type, ==, "key");
  sender_fixture_clear (&f);
}

/* A 720p30 camera into a 320x180@15 cap: every other picture, scaled. */
static void
test_sender_scale_and_rate (void)
{
  SenderFixture f = { 0 };
  g_autoptr (GPtrArray) video = NULL;
  g_autoptr (ConfabVideoDecoder) decoder =
      confab_video_decoder_new (CONFAB_VIDEO_CODEC_VP9, 1, NULL);
  g_autoptr (ConfabVideoFrame) picture = NULL;
  ConfabMediaPacket *first;
  int width, height, fps;

  sender_fixture_init (&f, 320, 180, 15, FALSE);
  push_pictures (&f, 30, 30);
  video = sent_media_from (f.mock, 0, CONFAB_MEDIA_VIDEO);
  g_assert_cmpuint (video->len, ==, 15);
  g_assert_cmpuint (confab_media_sender_get_frames_rate_skipped (f.sender), ==, 15);
  first = video->pdata[0];
  g_assert_true (
      confab_video_decoder_decode (decoder, first->data.data, first->data.len, 0, &picture, NULL));
  g_assert_nonnull (picture);
  g_assert_cmpint (picture->width, ==, 320);
  g_assert_cmpint (picture->height, ==, 180);
  confab_media_sender_get_encoded_format (f.sender, &width, &height, &fps);
  g_assert_cmpint (width, ==, 320);
  g_assert_cmpint (fps, ==, 15);
  sender_fixture_clear (&f);

  /* 720p into an 854x480 box is 854x480, the tier's size, not 852x480. */
  sender_fixture_init (&f, 854, 480, 30, FALSE);
  push_pictures (&f, 1, 30);
  confab_media_sender_get_encoded_format (f.sender, &width, &height, &fps);
  g_assert_cmpint (width, ==, 854);
  g_assert_cmpint (height, ==, 480);
  sender_fixture_clear (&f);
}

/* A keyframe request by our user id: the next picture is a key frame. */
static void
test_sender_keyframe_request (void)
{
  SenderFixture f = { 0 };
  g_autoptr (GPtrArray) video = NULL;
  ConfabMediaPacket request = CONFAB__MEDIA_PACKET__INIT;
  g_autoptr (GBytes) packet = NULL;
  guint mark;

  sender_fixture_init (&f, 320, 180, 30, FALSE);
  push_pictures (&f, 3, 30);
  request.media_type = CONFAB_MEDIA_KEYFRAME_REQUEST;
  request.user_id.data = (guint8 *) "alice";
  request.user_id.len = 5;
  request.data.data = (guint8 *) "VIDEO";
  request.data.len = 5;
  packet = media_packet (7, "bob", &request);
  confab_transport_emit_packet (CONFAB_TRANSPORT (f.mock), packet);
  mark = f.mock->sent->len;
  push_pictures (&f, 2, 30);
  video = sent_media_from (f.mock, mark, CONFAB_MEDIA_VIDEO);
  g_assert_cmpuint (video->len, ==, 2);
  g_assert_cmpstr (((ConfabMediaPacket *) video->pdata[0])->frame_type, ==, "key");
  g_assert_cmpstr (((ConfabMediaPacket *) video->pdata[1])->frame_type, ==, "delta");
  g_assert_cmpuint (confab_media_sender_get_keyframes_forced (f.sender), ==, 1);
  sender_fixture_clear (&f);
}

/* Pictures faster than the encoder thread takes them: the newest waits,
 * older waiting ones are dropped (counted), none queue up; the last picture
 * pushed is the last one sent. */
static void
test_sender_newest_wins (void)
{
  SenderFixture f = { 0 };
  g_autoptr (GPtrArray) video = NULL;
  ConfabMediaPacket *last;
  double expected_ms;
  gint64 last_pts = 0;
  guint64 replaced;

  sender_fixture_init (&f, 1280, 720, 30, FALSE);
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr (ConfabVideoFrame) frame = confab_test_pattern_next (f.pattern, i, f.pts);

      g_assert_true (confab_media_sender_push_video (f.sender, frame, NULL));
      last_pts = f.pts;
      f.pts += G_USEC_PER_SEC / 30;
    }
  g_assert_true (confab_media_sender_flush (f.sender));
  video = sent_media_from (f.mock, 0, CONFAB_MEDIA_VIDEO);
  replaced = confab_media_sender_get_frames_replaced (f.sender);
  g_test_message ("%u sent, %" G_GUINT64_FORMAT " replaced", video->len, replaced);
  g_assert_cmpuint (replaced, >=, 1);
  g_assert_cmpuint (video->len + replaced, ==, 20);
  /* The capture time travels as the wall-clock timestamp: the last picture's. */
  last = video->pdata[video->len - 1];
  expected_ms = (g_get_real_time () - (g_get_monotonic_time () - last_pts)) / 1000.0;
  g_assert_cmpfloat (ABS (last->timestamp / 1000.0 - expected_ms), <, 10);
  sender_fixture_clear (&f);
}

/* The sender goes away while its thread encodes: joined, nothing sent after. */
static void
test_sender_dispose_mid_encode (void)
{
  for (guint round = 0; round < 5; round++)
    {
      SenderFixture f = { 0 };
      g_autoptr (ConfabVideoFrame) frame = NULL;

      sender_fixture_init (&f, 1280, 720, 30, FALSE);
      frame = confab_test_pattern_next (f.pattern, 0, f.pts);
      g_assert_true (confab_media_sender_push_video (f.sender, frame, NULL));
      if (round % 2 == 1)
        g_usleep (round * 1000);
      sender_fixture_clear (&f);
    }
}

static gboolean
inject_congestion (gpointer data)
{
  SenderFixture *f = data;
  ConfabPacketWrapper w = CONFAB__PACKET_WRAPPER__INIT;
  g_autoptr (GBytes) bytes = NULL;

  /* As the relay writes it: the slow receiver's user id, our session. */
  w.packet_type = CONFAB_PACKET_CONGESTION;
  w.user_id.data = (guint8 *) "bob";
  w.user_id.len = 3;
  w.session_id = 42;
  bytes = confab_packet_pack (&w);
  confab_transport_emit_packet (CONFAB_TRANSPORT (f->mock), bytes);
  return G_SOURCE_CONTINUE;
}

/* The relay's CONGESTION, once a second (as it sends it) for 2 s: the tier
 * steps down after 1.5 s, once. */
static void
test_sender_congestion (void)
{
  SenderFixture f = { 0 };
  const ConfabMediaSenderStep *steps;
  guint n_steps, timer;
  int width, height, fps;
  gint64 start;

  sender_fixture_init (&f, 640, 360, 30, TRUE);
  start = g_get_monotonic_time ();
  inject_congestion (&f);
  timer = g_timeout_add (1000, inject_congestion, &f);
  run_loop_for (2200);
  g_source_remove (timer);
  steps = confab_media_sender_get_steps (f.sender, &n_steps);
  g_assert_cmpuint (n_steps, ==, 2);
  g_assert_cmpint (steps[1].change, ==, CONFAB_QUALITY_DOWN);
  g_test_message ("down after %.0f ms", (steps[1].time_us - start) / 1000.0);
  g_assert_cmpint (steps[1].time_us - start, >=, 1500 * 1000);
  g_assert_cmpint (steps[1].time_us - start, <=, 1700 * 1000);
  confab_media_sender_get_video_format (f.sender, &width, &height, &fps, NULL);
  g_assert_cmpint (width, ==, 640);
  g_assert_cmpint (fps, ==, 25);
  sender_fixture_clear (&f);
}

/* A receiver reports every 500 ms what arrived from each peer over the last
 * second, filled as upstream browsers fill it. */
static void
test_call_sends_diagnostics (void)
{
  SenderFixture f = { 0 };
  guint diagnostics = 0;
  gint64 end;
  guint64 seq = 0;

  sender_fixture_init (&f, 320, 180, 30, FALSE);
  {
    /* Bob says he sends video: only announced streams are reported. */
    ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
    Confab__HeartbeatMetadata hb = CONFAB__HEARTBEAT_METADATA__INIT;
    g_autoptr (GBytes) packet = NULL;

    media.media_type = CONFAB_MEDIA_HEARTBEAT;
    hb.video_enabled = TRUE;
    media.heartbeat_metadata = &hb;
    packet = media_packet (7, "bob", &media);
    confab_transport_emit_packet (CONFAB_TRANSPORT (f.mock), packet);
  }
  end = g_get_monotonic_time () + 1700 * 1000;
  while (g_get_monotonic_time () < end)
    {
      g_autoptr (GBytes) v = NULL;

      seq++;
      v = video_packet (7, "bob", seq, seq == 1);

      confab_transport_emit_packet (CONFAB_TRANSPORT (f.mock), v);
      run_loop_for (33);
    }
  for (guint i = 0; i < f.mock->sent->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (f.mock->sent, i), &len);
      ConfabPacketWrapper *w = confab__packet_wrapper__unpack (NULL, len, data);
      Confab__DiagnosticsPacket *d = NULL;

      if (w->packet_type == CONFAB_PACKET_DIAGNOSTICS)
        d = confab__diagnostics_packet__unpack (NULL, w->data.len, w->data.data);
      else
        {
          confab__packet_wrapper__free_unpacked (w, NULL);
          continue;
        }
      confab__packet_wrapper__free_unpacked (w, NULL);
      g_assert_nonnull (d);
      g_test_message ("DIAGNOSTICS about %s: %.1f fps, %u kbps", d->sender_id,
                      d->video_metrics != NULL ? d->video_metrics->fps_received : -1,
                      d->video_metrics != NULL ? d->video_metrics->bitrate_kbps : 0);
      g_assert_cmpstr (d->sender_id, ==, "7");
      g_assert_cmpstr (d->target_id, ==, "alice");
      g_assert_cmpint (d->media_type, ==, CONFAB_MEDIA_VIDEO);
      g_assert_nonnull (d->video_metrics);
      /* ~30 fps sent by the loop above, on a loaded machine. */
      g_assert_cmpfloat (d->video_metrics->fps_received, >=, 15);
      g_assert_cmpfloat (d->video_metrics->fps_received, <=, 35);
      diagnostics++;
      confab__diagnostics_packet__free_unpacked (d, NULL);
    }
  /* Reports start after a second of video, every 500 ms. */
  g_assert_cmpuint (diagnostics, >=, 1);
  g_assert_cmpuint (diagnostics, <=, 2);

  /* And HEALTH every 5 s, with a line for Bob. */
  run_loop_for (3600);
  {
    guint health = 0;

    for (guint i = 0; i < f.mock->sent->len; i++)
      {
        gsize len;
        const guint8 *data = g_bytes_get_data (g_ptr_array_index (f.mock->sent, i), &len);
        ConfabPacketWrapper *w = confab__packet_wrapper__unpack (NULL, len, data);
        Confab__HealthPacket *h = NULL;

        if (w->packet_type == CONFAB_PACKET_HEALTH)
          h = confab__health_packet__unpack (NULL, w->data.len, w->data.data);
        confab__packet_wrapper__free_unpacked (w, NULL);
        if (h == NULL)
          continue;
        health++;
        g_assert_cmpstr (h->session_id, ==, "42");
        g_assert_cmpmem (h->reporting_user_id.data, h->reporting_user_id.len, "alice", 5);
        g_assert_cmpstr (h->active_server_type, ==, "mock");
        g_assert_cmpuint (h->n_peer_stats, ==, 1);
        g_assert_cmpstr (h->peer_stats[0]->key, ==, "7");
        g_assert_true (h->peer_stats[0]->value->video_enabled);
        confab__health_packet__free_unpacked (h, NULL);
      }
    g_assert_cmpuint (health, ==, 1);
  }
  sender_fixture_clear (&f);
}

/* Lip sync wired through ConfabPeer with real VP9 and Opus and injected
 * clocks: the peer's audio plays 40+ ms behind its video (the audio jitter
 * buffer's target), so pictures are held until the audio catches up, none
 * waits more than 150 ms or is shown ahead of the audio by more than 30 ms
 * (less the 20 ms a pull covers), none is dropped. */
static void
test_peer_lip_sync (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabPeer) peer = confab_peer_new (7, 0);
  g_autoptr (ConfabVideoEncoder) encoder =
      confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP9, 320, 180, 30, 0, 1, &error);
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (320, 180);
  g_autoptr (ConfabAudioEncoder) opus = confab_audio_encoder_new (0, NULL);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (300, 48000, 0.3);
  const gint64 base = 100 * G_USEC_PER_SEC; /* our monotonic clock */
  const gint64 epoch = 1700000000000000;    /* the sender's wall clock, µs */
  guint64 next_video = 0, next_audio = 0, shown = 0, early = 0;
  gint64 max_hold = 0, last_decoded = 0, video_held_since = 0;

  g_assert_no_error (error);
  confab_peer_set_receive_media (peer, TRUE, TRUE);
  /* 4 s: video every 33.3 ms, audio every 20 ms, both arriving 5 ms after
   * capture; the mixer pulls every 20 ms; the renderer takes after each tick. */
  for (gint64 t = 0; t < 4 * G_USEC_PER_SEC; t += 1000)
    {
      gint64 now = base + t;

      if (t >= (gint64) next_video * 33333 + 5000)
        {
          g_autoptr (ConfabVideoFrame) source = NULL;
          ConfabEncodedFrame encoded;

          source = confab_test_pattern_next (pattern, next_video, 0);
          g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, NULL));
          if (encoded.size > 0)
            confab_peer_receive_video (peer, CONFAB_VIDEO_CODEC_VP9, next_video + 1, encoded.is_key,
                                       encoded.data, encoded.size,
                                       epoch + (gint64) next_video * 33333, now);
          next_video++;
        }
      if (t >= (gint64) next_audio * 20000 + 5000)
        {
          gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
          guint8 packet[CONFAB_AUDIO_MAX_PACKET];
          gssize len;

          confab_tone_source_fill (tone, pcm, G_N_ELEMENTS (pcm));
          len = confab_audio_encoder_encode (opus, pcm, packet, sizeof packet, NULL);
          g_assert_cmpint (len, >, 0);
          confab_peer_receive_audio (peer, next_audio + 1, packet, len,
                                     (epoch + (gint64) next_audio * 20000) / 1000, now);
          next_audio++;
        }
      if (t % 20000 == 0 && t >= 100000)
        {
          gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];

          confab_peer_pull_audio (peer, now, pcm);
        }
      confab_peer_service_video (peer, now);
      {
        g_autoptr (ConfabVideoFrame) picture = confab_peer_take_video_frame (peer);

        /* How long the newest decoded picture has waited for the renderer. */
        if (confab_peer_get_decoded_video_frames (peer) != (guint64) last_decoded)
          {
            if (video_held_since == 0)
              video_held_since = now;
            last_decoded = confab_peer_get_decoded_video_frames (peer);
          }
        if (picture != NULL)
          {
            /* The audio heard now was captured about (t - 5 ms - jitter
             * buffer delay) after the epoch. */
            shown++;
            if (video_held_since != 0)
              max_hold = MAX (max_hold, now - video_held_since);
            video_held_since = 0;
            if (t > 500000 && picture->pts_us - (epoch + t - 45000) > 30000 + 20000)
              early++;
          }
      }
    }
  g_test_message ("%" G_GUINT64_FORMAT " pictures shown, %" G_GUINT64_FORMAT
                  " held, %" G_GUINT64_FORMAT " dropped late, longest wait %" G_GINT64_FORMAT " ms",
                  shown, confab_peer_get_video_frames_held (peer),
                  confab_peer_get_video_frames_dropped_late (peer), max_hold / 1000);
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (peer), >=, 115);
  g_assert_cmpuint (shown, >=, 110);
  g_assert_cmpuint (confab_peer_get_video_frames_held (peer), >=, 90);
  g_assert_cmpuint (confab_peer_get_video_frames_dropped_late (peer), ==, 0);
  g_assert_cmpint (max_hold, <=, 150 * 1000);
  g_assert_cmpint (max_hold, >=, 10 * 1000);
  g_assert_cmpuint (early, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/rtt/average", test_rtt_average);
  g_test_add_func ("/call/peer/gap-and-keyframe-pacing", test_peer_gap_and_keyframe_pacing);
  g_test_add_func ("/call/peer/joined-mid-stream", test_peer_joined_mid_stream);
  g_test_add_func ("/call/peer/silence-and-heartbeats", test_peer_silence_and_heartbeats);
  g_test_add_func ("/call/peer/session-switch", test_peer_session_switch);
  g_test_add_func ("/call/peer/two-live-sessions", test_peer_two_live_sessions);
  g_test_add_func ("/call/flow", test_call_flow);
  g_test_add_func ("/call/sends-keyframe-request", test_call_sends_keyframe_request);
  g_test_add_func ("/call/receives-media", test_call_receives_media);
  g_test_add_func ("/call/speaking", test_call_speaking);
  g_test_add_func ("/call/sends-diagnostics", test_call_sends_diagnostics);
  g_test_add_func ("/call/sender/mute-and-camera-off", test_sender_mute_and_camera_off);
  g_test_add_func ("/call/sender/scale-and-rate", test_sender_scale_and_rate);
  g_test_add_func ("/call/sender/keyframe-request", test_sender_keyframe_request);
  g_test_add_func ("/call/sender/newest-wins", test_sender_newest_wins);
  g_test_add_func ("/call/sender/dispose-mid-encode", test_sender_dispose_mid_encode);
  g_test_add_func ("/call/sender/congestion", test_sender_congestion);
  g_test_add_func ("/call/peer/lip-sync", test_peer_lip_sync);
  return g_test_run ();
}
