/* confab-test-peer.h: a peer's video counters read at one moment, for the
 * call/ tests that compare them before and after a step (hide, show, a
 * burst). Header only: every test that includes it links call/ already. */
#pragma once

#include "confab-peer.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 received;  /* video frames that arrived */
  guint64 keyframes; /* of which key frames */
  guint64 decoded;
  guint64 requests; /* keyframe requests we sent */
  guint64 gaps;
  guint64 unwanted; /* delta frames skipped while not wanted */
  guint64 behind;   /* frames a decoding worker skipped being behind */
  gint64 at_us;
} ConfabTestVideoCounts;

static inline void
confab_test_video_counts_take (ConfabPeer *peer, ConfabTestVideoCounts *c)
{
  ConfabVideoJitterStats stats = { 0 };

  g_assert_true (confab_peer_get_video_jitter_stats (peer, &stats));
  c->received = confab_peer_get_video_frames (peer);
  c->keyframes = confab_peer_get_video_keyframes (peer);
  c->decoded = confab_peer_get_decoded_video_frames (peer);
  c->requests = confab_peer_get_keyframe_requests_sent (peer);
  c->gaps = stats.gaps;
  c->unwanted = confab_peer_get_video_frames_unwanted (peer);
  c->behind = confab_peer_get_video_frames_behind (peer);
  c->at_us = g_get_monotonic_time ();
}

G_END_DECLS
