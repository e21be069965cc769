/* confab-media-sender.h: what this client sends in a call: raw pictures and
 * 20 ms microphone chunks pushed by whoever captures them (test source,
 * PipeWire camera and microphone, a file) become VP9/VP8/H.264 and Opus
 * packets on a ConfabCall, at the quality PROTOCOL.md §5's tiers allow.
 * Shared by confab-cli and the app. GTK-free. */
#pragma once

#include "confab-call.h"
#include "confab-quality.h"
#include "confab-video-frame.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_MEDIA_SENDER (confab_media_sender_get_type ())
G_DECLARE_FINAL_TYPE (ConfabMediaSender, confab_media_sender, CONFAB, MEDIA_SENDER, GObject)

typedef struct
{
  /* VP9 (what upstream browsers decode), VP8, or H.264: H.264 goes out only
   * while every present peer advertises it decodes it, VP9 otherwise. */
  ConfabVideoCodec codec;
  /* The most the user wants sent (e.g. --size/--fps); 0 = what the top tier
   * allows (1280x720@30). Pictures are never scaled up. */
  int max_width;
  int max_height;
  int max_fps;
  /* Follow receivers' DIAGNOSTICS and the relay's CONGESTION down and up the
   * tiers (PROTOCOL.md §5); FALSE keeps the first tier. */
  gboolean adapt;
} ConfabMediaSenderConfig;

/* One step of the camera's quality, for summaries and diagnostics. */
typedef struct
{
  gint64 time_us; /* monotonic */
  ConfabQualityChange change;
  ConfabQualityLevel level;
} ConfabMediaSenderStep;

/* Sends on @call (which it keeps a reference to). Announces video and audio
 * as enabled in heartbeats; use the setters below for camera-off and mute.
 * Signals (on the caller's thread-default context):
 * - "level-changed": the tier changed; a source that can produce the new
 *   size and rate itself (the test pattern) may read
 *   confab_media_sender_get_video_format() and follow, saving a scale.
 * - "error" (GError): an encoder failed; nothing more is sent. */
ConfabMediaSender *confab_media_sender_new (ConfabCall *call,
                                            const ConfabMediaSenderConfig *config);

/* The rate the source delivers pictures at, when known (a camera's
 * negotiated rate): the encoder never assumes more. */
void confab_media_sender_set_source_fps (ConfabMediaSender *self, int fps);

/* One captured picture (frame->pts_us: capture time, monotonic µs). Skipped
 * when it comes sooner than the tier's rate allows; else handed (a
 * reference, no copy) to the sender's encoder thread, which scales it down
 * to the tier's size when larger (aspect kept) and encodes it; the packet is
 * sent from the caller's thread-default context. While the encoder is busy
 * only the newest picture waits: an older waiting one is dropped
 * (confab_media_sender_get_frames_replaced()). Encoder failures come as
 * "error"; FALSE only for bad arguments. */
gboolean
confab_media_sender_push_video (ConfabMediaSender *self, ConfabVideoFrame *frame, GError **error);
/* One 20 ms chunk: CONFAB_AUDIO_FRAME_SAMPLES samples, 48 kHz mono S16. */
gboolean
confab_media_sender_push_audio (ConfabMediaSender *self, const gint16 *samples, GError **error);

/* Camera off / microphone muted: nothing of that kind is encoded or sent,
 * and heartbeats say so at once. Turning video back on starts with a key
 * frame. */
void confab_media_sender_set_video_enabled (ConfabMediaSender *self, gboolean enabled);
void confab_media_sender_set_audio_enabled (ConfabMediaSender *self, gboolean enabled);
gboolean confab_media_sender_get_video_enabled (ConfabMediaSender *self);
gboolean confab_media_sender_get_audio_enabled (ConfabMediaSender *self);

/* Waits (at most 5 s) until the encoder has taken every picture pushed so
 * far and sends what it made, on the calling context: for sources that must
 * not lose a picture (tests pushing faster than real time). FALSE on
 * timeout. */
gboolean confab_media_sender_flush (ConfabMediaSender *self);

/* The next picture pushed is encoded as a key frame (a new camera: peers
 * see it at once, also those that decode only key frames). */
void confab_media_sender_request_keyframe (ConfabMediaSender *self);

/* What the tier allows now: the box pictures are fitted into and the rate. */
void confab_media_sender_get_video_format (
    ConfabMediaSender *self, int *width, int *height, int *fps, guint *bitrate_kbps);
/* What the encoder last produced (0 before the first picture). */
void
confab_media_sender_get_encoded_format (ConfabMediaSender *self, int *width, int *height, int *fps);
/* The codec in use now (VP9 while an H.264 request waits for every peer). */
ConfabVideoCodec confab_media_sender_get_codec (ConfabMediaSender *self);

/* Every tier step since creation, the start first. (transfer none) */
const ConfabMediaSenderStep *confab_media_sender_get_steps (ConfabMediaSender *self,
                                                            guint *n_steps);

/* Scale + encode per picture, on the encoder thread. */
double confab_media_sender_get_encode_ms_avg (ConfabMediaSender *self);
/* Per encoded picture, the CPU time sending video costs the caller's thread
 * (the rate check and hand-over, then packing and sending the result). */
double confab_media_sender_get_caller_us_avg (ConfabMediaSender *self);
/* Key frames forced by peers' requests (PROTOCOL.md §5) and reconnects. */
guint64 confab_media_sender_get_keyframes_forced (ConfabMediaSender *self);
/* Pictures skipped because they came faster than the tier's rate. */
guint64 confab_media_sender_get_frames_rate_skipped (ConfabMediaSender *self);
/* Codec switches (H.264 <-> VP9 as peers come and go). */
guint confab_media_sender_get_codec_switches (ConfabMediaSender *self);
/* Pictures dropped because a newer one came while the encoder was busy. */
guint64 confab_media_sender_get_frames_replaced (ConfabMediaSender *self);

G_END_DECLS
