/* test-call-decode.c: decoding on worker threads
 * (confab_call_set_decode_threads). Real confab-cli senders (320×180@30)
 * through the real relay to a ConfabCall with two decoding threads:
 * - every peer's frames are decoded (≥ 90 % of those received), their
 *   pictures reach the slot in capture order, the decoding CPU is spent
 *   off the call's thread, and a peer nobody shows still costs only its
 *   key frames and comes back at once when shown again;
 * - disposing the call while the workers decode (peers still held by
 *   someone) is clean: no use-after-free or leak under ASan;
 * - a worker that falls behind skips to the next key frame instead of
 *   queueing: driven directly (ConfabPeer's private API, frames from the
 *   real VP9 encoder) faster than anyone can decode. */
#define G_LOG_DOMAIN "test-call-decode"

#include "confab-call.h"
#include "confab-packet.h"
#include "confab-peer-private.h"
#include "confab-test-cli.h"
#include "confab-test-peer.h"
#include "confab-decode-pool.h"
#include "confab-test-source.h"
#include "confab-test-util.h"
#include "confab-video-encoder.h"
#include "confab-ws-transport.h"

#include <time.h>

#define SENDERS 4

static void
spin (guint ms)
{
  gboolean never = FALSE;

  confab_test_run_until (&never, ms);
}

static gint64
cpu_ns (clockid_t clock)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  return ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Pictures taken on "video-frame", as a renderer would: their capture
 * times must only go forward. */
typedef struct
{
  GHashTable *last_pts; /* ConfabPeer* -> gint64* */
  guint64 taken;
  guint64 out_of_order;
} Taker;

static void
on_video_frame (ConfabCall *call, ConfabPeer *peer, Taker *taker)
{
  g_autoptr (ConfabVideoFrame) picture = confab_peer_take_video_frame (peer);
  gint64 *last;

  if (picture == NULL)
    return;
  last = g_hash_table_lookup (taker->last_pts, peer);
  if (last == NULL)
    {
      last = g_new0 (gint64, 1);
      g_hash_table_insert (taker->last_pts, peer, last);
    }
  else if (picture->pts_us <= *last)
    taker->out_of_order++;
  *last = picture->pts_us;
  taker->taken++;
}

static ConfabTestCli **
start_senders (ConfabTestRelay *relay, const char *room, guint n, const char *duration)
{
  ConfabTestCli **clis = g_new0 (ConfabTestCli *, n + 1);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *url = g_strdup_printf ("%s/lobby/sender%u/%s", relay->ws_base, i, room);

      clis[i] = confab_test_cli_start ("join", url, "--size", "320x180", "--fps", "30", "--audio",
                                       "none", "--duration", duration, NULL);
    }
  return clis;
}

static void
stop_senders (ConfabTestCli **clis, gboolean check)
{
  confab_test_cli_wait_all (clis, 25000);
  for (guint i = 0; clis[i] != NULL; i++)
    {
      if (check)
        g_assert_cmpint (clis[i]->status, ==, 0);
      confab_test_cli_free (clis[i]);
    }
  g_free (clis);
}

static ConfabCall *
join_receiver (ConfabTestRelay *relay, const char *room, const char *user)
{
  g_autofree char *url = g_strdup_printf ("%s/lobby/%s/%s", relay->ws_base, user, room);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTransport) transport = confab_ws_transport_new (url, &error);
  ConfabCall *call;

  g_assert_no_error (error);
  call = confab_call_new (transport, user);
  confab_call_set_receive_media (call, TRUE, FALSE);
  confab_call_set_decode_threads (call, 2);
  g_assert_cmpuint (confab_call_get_decode_threads (call), ==, 2);
  confab_call_start (call);
  return call;
}

/* TRUE once @n peers have each decoded at least @pictures. */
static gboolean
wait_for_peers (ConfabCall *call, guint n, guint64 pictures, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * (gint64) 1000;

  while (g_get_monotonic_time () < end)
    {
      GPtrArray *peers = confab_call_get_peers (call);
      guint ready = 0;

      for (guint i = 0; i < peers->len; i++)
        if (confab_peer_get_decoded_video_frames (g_ptr_array_index (peers, i)) >= pictures)
          ready++;
      if (ready >= n)
        return TRUE;
      spin (50);
    }
  return FALSE;
}

static void
take_all (GPtrArray *peers, ConfabTestVideoCounts *counts)
{
  for (guint i = 0; i < peers->len; i++)
    confab_test_video_counts_take (g_ptr_array_index (peers, i), &counts[i]);
}

static void
test_several_peers (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("decode");
  ConfabTestCli **clis = start_senders (relay, room, SENDERS, "18");
  g_autoptr (ConfabCall) call = join_receiver (relay, room, "viewer");
  Taker taker = { g_hash_table_new_full (NULL, NULL, NULL, g_free), 0, 0 };
  ConfabTestVideoCounts a[SENDERS], b[SENDERS], c[SENDERS], d[SENDERS];
  GPtrArray *peers;
  ConfabPeer *hidden;
  gint64 main0, proc0, main1, proc1, wanted_at, key_at = -1;

  g_signal_connect (call, "video-frame", G_CALLBACK (on_video_frame), &taker);
  g_assert_true (wait_for_peers (call, SENDERS, 1, 12000));
  peers = confab_call_get_peers (call);
  g_assert_cmpuint (peers->len, ==, SENDERS);

  /* Everyone wanted: every peer decoded at the full rate, off our thread. */
  spin (500);
  take_all (peers, a);
  main0 = cpu_ns (CLOCK_THREAD_CPUTIME_ID);
  proc0 = cpu_ns (CLOCK_PROCESS_CPUTIME_ID);
  spin (3000);
  main1 = cpu_ns (CLOCK_THREAD_CPUTIME_ID);
  proc1 = cpu_ns (CLOCK_PROCESS_CPUTIME_ID);
  take_all (peers, b);
  for (guint i = 0; i < SENDERS; i++)
    {
      g_test_message ("peer %u: %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT
                      " decoded, %" G_GUINT64_FORMAT " behind",
                      i, b[i].received - a[i].received, b[i].decoded - a[i].decoded,
                      b[i].behind - a[i].behind);
      g_assert_cmpuint (b[i].received - a[i].received, >=, 45);
      g_assert_cmpuint ((b[i].decoded - a[i].decoded) * 10, >=,
                        (b[i].received - a[i].received) * 9);
      g_assert_cmpuint (b[i].unwanted, ==, 0);
    }
  g_test_message (
      "CPU in 3 s: %.0f ms on the call's thread, %.0f ms on the others; %" G_GUINT64_FORMAT
      " pictures taken, %" G_GUINT64_FORMAT " out of order",
      (main1 - main0) / 1e6, (proc1 - proc0 - (main1 - main0)) / 1e6, taker.taken,
      taker.out_of_order);
  /* The decoding (the bulk of a receiver's work) ran on the workers. */
  g_assert_cmpint (proc1 - proc0 - (main1 - main0), >, main1 - main0);
  g_assert_cmpuint (taker.out_of_order, ==, 0);
  g_assert_cmpuint (taker.taken, >=, 4 * 45);

  /* One peer not shown for 6 s (> the senders' 5 s key frame interval):
   * still received at the full rate, key frames decoded only, no request;
   * the others untouched. */
  hidden = g_ptr_array_index (peers, 0);
  confab_call_set_peer_video_wanted (call, confab_peer_get_session_id (hidden), FALSE);
  /* Pictures handed to the workers before the switch are still decoded
   * (the choice is made when a frame is queued): count from after they
   * drained, or one of them reads as a delta decoded while hidden. */
  spin (300);
  take_all (peers, b);
  spin (6000);
  take_all (peers, c);
  g_test_message ("hidden: %" G_GUINT64_FORMAT " received (%" G_GUINT64_FORMAT
                  " key), %" G_GUINT64_FORMAT " decoded, %" G_GUINT64_FORMAT " skipped",
                  c[0].received - b[0].received, c[0].keyframes - b[0].keyframes,
                  c[0].decoded - b[0].decoded, c[0].unwanted - b[0].unwanted);
  g_assert_cmpuint (c[0].received - b[0].received, >=, 100);
  g_assert_cmpuint (c[0].keyframes - b[0].keyframes, >=, 1);
  g_assert_cmpuint (c[0].decoded - b[0].decoded, >=, 1);
  g_assert_cmpuint (c[0].decoded - b[0].decoded, <=, c[0].keyframes - b[0].keyframes);
  g_assert_cmpuint (c[0].requests, ==, b[0].requests);
  g_assert_cmpuint (c[0].gaps, ==, b[0].gaps);
  for (guint i = 1; i < SENDERS; i++)
    g_assert_cmpuint ((c[i].decoded - b[i].decoded) * 10, >=, (c[i].received - b[i].received) * 9);

  /* Shown again: a picture within a second, then the full rate. */
  wanted_at = g_get_monotonic_time ();
  confab_call_set_peer_video_wanted (call, confab_peer_get_session_id (hidden), TRUE);
  while (g_get_monotonic_time () - wanted_at < 2 * G_USEC_PER_SEC)
    {
      if (confab_peer_get_decoded_video_frames (hidden) > c[0].decoded)
        {
          key_at = g_get_monotonic_time ();
          break;
        }
      spin (5);
    }
  g_test_message ("shown again: first picture after %.0f ms",
                  key_at < 0 ? -1.0 : (key_at - wanted_at) / 1000.0);
  g_assert_cmpint (key_at, >=, 0);
  g_assert_cmpint (key_at - wanted_at, <=, G_USEC_PER_SEC);
  take_all (peers, c);
  spin (1500);
  take_all (peers, d);
  for (guint i = 0; i < SENDERS; i++)
    {
      g_assert_cmpuint (d[i].received - c[i].received, >=, 20);
      g_assert_cmpuint ((d[i].decoded - c[i].decoded) * 10, >=,
                        (d[i].received - c[i].received) * 9);
    }
  g_assert_cmpuint (d[0].unwanted, ==, c[0].unwanted);
  g_assert_cmpuint (taker.out_of_order, ==, 0);

  confab_call_leave (call);
  spin (100);
  stop_senders (clis, TRUE);
  g_hash_table_unref (taker.last_pts);
}

/* The call goes while its workers decode; peers held elsewhere (a grid's
 * tiles) outlive it and still hand out their last picture. */
static void
test_dispose_mid_stream (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("decode-dispose");
  ConfabTestCli **clis = start_senders (relay, room, 3, "14");

  for (guint round = 0; round < 4; round++)
    {
      g_autofree char *user = g_strdup_printf ("viewer%u", round);
      ConfabCall *call = join_receiver (relay, room, user);
      g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
      GPtrArray *peers;

      g_object_add_weak_pointer (G_OBJECT (call), (gpointer *) &call);
      g_assert_true (wait_for_peers (call, 3, 10, 10000));
      /* Somewhere in a frame interval: sometimes mid-decode. */
      spin (round * 9);
      peers = confab_call_get_peers (call);
      for (guint i = 0; i < peers->len; i++)
        g_ptr_array_add (held, g_object_ref (g_ptr_array_index (peers, i)));
      g_object_unref (call);
      g_assert_null (call);
      for (guint i = 0; i < held->len; i++)
        {
          g_autoptr (ConfabVideoFrame) last =
              confab_peer_take_video_frame (g_ptr_array_index (held, i));

          g_assert_cmpuint (confab_peer_get_decoded_video_frames (g_ptr_array_index (held, i)), >=,
                            10);
          (void) last;
        }
      /* The transport's goodbye. */
      spin (50);
    }
  stop_senders (clis, FALSE);
}

/* Encoded test pattern frames (copied: the encoder reuses its buffer). */
typedef struct
{
  GBytes *data;
  gboolean is_key;
  gint64 pts_us;
} Encoded;

static GArray *
encode_frames (guint n, guint key_at)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (320, 180);
  g_autoptr (ConfabVideoEncoder) encoder =
      confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP9, 320, 180, 30, 0, 1, &error);
  GArray *frames = g_array_new (FALSE, TRUE, sizeof (Encoded));

  g_assert_no_error (error);
  for (guint i = 0; frames->len < n && i < 2 * n; i++)
    {
      g_autoptr (ConfabVideoFrame) picture =
          confab_test_pattern_next (pattern, i, g_get_real_time ());
      ConfabEncodedFrame out = { 0 };

      if (frames->len == key_at)
        confab_video_encoder_request_keyframe (encoder);
      g_assert_true (confab_video_encoder_encode (encoder, picture, &out, &error));
      if (out.size == 0)
        continue;
      g_array_append_val (
          frames, ((Encoded){ g_bytes_new (out.data, out.size), out.is_key, picture->pts_us }));
    }
  g_assert_cmpuint (frames->len, ==, n);
  return frames;
}

static void
push_frame (ConfabPeer *peer, Encoded *frame, guint64 sequence)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame->data, &len);
  gint64 now = g_get_monotonic_time ();

  confab_peer_on_video (peer, TRUE, sequence, frame->is_key, now);
  confab_peer_receive_video (peer, CONFAB_VIDEO_CODEC_VP9, sequence, frame->is_key, data, len,
                             frame->pts_us, now);
}

static void
on_collect (gpointer owner, gpointer user_data)
{
  confab_peer_collect_decoded (owner, g_get_monotonic_time ());
}

static gboolean
tick_done (gpointer data)
{
  return G_SOURCE_REMOVE;
}

static void
iterate_for (GMainContext *context, guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * (gint64) 1000;

  /* Bounded: the pool's wake-up or a 1 ms timeout, until @ms passed. */
  while (g_get_monotonic_time () < end)
    {
      g_autoptr (GSource) tick = g_timeout_source_new (1);

      g_source_set_callback (tick, tick_done, NULL, NULL);
      g_source_attach (tick, context);
      g_main_context_iteration (context, TRUE);
      g_source_destroy (tick);
    }
}

/* Frames handed over far faster than a worker decodes (3 s in one go):
 * the queue stays bounded, the skipped frames are counted, decoding resumes at the next key
 * frame, and the skip asks for a key frame at once. */
static void
test_behind_skips_to_key_frame (void)
{
  const guint burst = 90, after = 10, key_at = burst + 5;
  g_autoptr (GArray) frames = encode_frames (burst + after, key_at);
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (ConfabPeer) peer = NULL;
  ConfabDecodePool *pool;
  guint64 decoded, behind;

  g_assert_true (g_array_index (frames, Encoded, 0).is_key);
  g_assert_true (g_array_index (frames, Encoded, key_at).is_key);
  g_main_context_push_thread_default (context);
  pool = confab_decode_pool_new (1, context, on_collect, NULL);
  peer = confab_peer_new (7, g_get_monotonic_time ());
  confab_peer_set_receive_media (peer, TRUE, FALSE);
  confab_peer_set_decode_pool (peer, pool);

  /* The key frame, decoded; then 3 s of video in one go. */
  push_frame (peer, &g_array_index (frames, Encoded, 0), 1);
  for (guint waited = 0; waited < 200 && confab_peer_get_decoded_video_frames (peer) == 0; waited++)
    iterate_for (context, 10);
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (peer), ==, 1);
  /* A third of a second handed over at once (as after our context
   * stalled) is no sign of a slow worker: all decoded, none skipped. */
  for (guint i = 1; i < 11; i++)
    push_frame (peer, &g_array_index (frames, Encoded, i), i + 1);
  for (guint waited = 0; waited < 300 && confab_peer_get_decoded_video_frames (peer) < 11; waited++)
    iterate_for (context, 10);
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (peer), ==, 11);
  g_assert_cmpuint (confab_peer_get_video_frames_behind (peer), ==, 0);
  for (guint i = 11; i < burst; i++)
    push_frame (peer, &g_array_index (frames, Encoded, i), i + 1);
  behind = confab_peer_get_video_frames_behind (peer);
  g_test_message ("behind: %" G_GUINT64_FORMAT " of %u skipped", behind, burst);
  g_assert_cmpuint (behind, >=, burst - 11 - 2 * CONFAB_DECODE_QUEUE);
  /* Skipped for being behind is not "not wanted". */
  g_assert_cmpuint (confab_peer_get_video_frames_unwanted (peer), ==, 0);
  /* Asks for a key frame at once (not after the 1 s a loss waits). */
  g_assert_true (confab_peer_take_keyframe_request (peer, g_get_monotonic_time ()));

  /* What was queued gets decoded, and no more. */
  iterate_for (context, 1500);
  decoded = confab_peer_get_decoded_video_frames (peer);
  g_test_message ("decoded %" G_GUINT64_FORMAT " of the burst", decoded);
  g_assert_cmpuint (decoded, >=, 11);
  g_assert_cmpuint (decoded, <=, 11 + 2 + CONFAB_DECODE_QUEUE);
  g_assert_cmpuint (decoded + behind, ==, burst);
  g_assert_cmpuint (confab_peer_get_video_decode_errors (peer), ==, 0);

  /* Deltas after the skip are not decoded; the next key frame resumes. */
  for (guint i = burst; i < burst + after; i++)
    {
      push_frame (peer, &g_array_index (frames, Encoded, i), i + 1);
      iterate_for (context, 60);
    }
  g_test_message ("after: %" G_GUINT64_FORMAT " decoded of %u (%u before the key frame)",
                  confab_peer_get_decoded_video_frames (peer) - decoded, after, key_at - burst);
  g_assert_cmpuint (confab_peer_get_decoded_video_frames (peer) - decoded, ==,
                    burst + after - key_at);
  g_assert_cmpuint (confab_peer_get_video_frames_behind (peer), ==, behind + key_at - burst);
  g_assert_cmpuint (confab_peer_get_video_decode_errors (peer), ==, 0);

  g_clear_object (&peer); /* closes its stream */
  confab_decode_pool_shutdown (pool);
  confab_decode_pool_unref (pool);
  g_main_context_pop_thread_default (context);
  for (guint i = 0; i < frames->len; i++)
    g_bytes_unref (g_array_index (frames, Encoded, i).data);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/decode/several-peers", test_several_peers);
  g_test_add_func ("/call/decode/dispose-mid-stream", test_dispose_mid_stream);
  g_test_add_func ("/call/decode/behind-skips-to-key-frame", test_behind_skips_to_key_frame);
  return g_test_run ();
}
