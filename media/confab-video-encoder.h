/* confab-video-encoder.h: realtime VP9/VP8 (libvpx) and H.264 (x264) encoding,
 * tuned for calls: no lookahead, CBR, periodic and on-demand key frames. */
#pragma once

#include "confab-video-frame.h"

G_BEGIN_DECLS

#define CONFAB_MEDIA_ERROR (confab_media_error_quark ())

typedef enum
{
  CONFAB_MEDIA_ERROR_INIT,    /* a codec refused its configuration */
  CONFAB_MEDIA_ERROR_ENCODE,  /* a codec failed on a frame */
  CONFAB_MEDIA_ERROR_INVALID, /* a bad argument (size, rate, codec name) */
  CONFAB_MEDIA_ERROR_DECODE,  /* a frame that does not decode (corrupt, truncated, no key) */
} ConfabMediaError;

GQuark confab_media_error_quark (void);

/* Values match VideoMetadata.codec on the wire (PROTOCOL.md §2). */
typedef enum
{
  CONFAB_VIDEO_CODEC_VP8 = 1,
  CONFAB_VIDEO_CODEC_VP9 = 2, /* VP9 profile 0, 8 bit */
  /* [confab] Annex B H.264 (SPS/PPS repeated before every IDR). Extension
   * numbers start at 100 (PROTOCOL.md §7); sent only to rooms whose peers all
   * decode it. */
  CONFAB_VIDEO_CODEC_H264 = 100,
} ConfabVideoCodec;

/* "vp9" / "vp8" / "h264" -> codec; FALSE for anything else. */
gboolean confab_video_codec_from_string (const char *name, ConfabVideoCodec *codec);
const char *confab_video_codec_to_string (ConfabVideoCodec codec);

typedef struct
{
  const guint8 *data; /* valid until the next encode call */
  gsize size;
  gboolean is_key;
  gint64 pts_us;
} ConfabEncodedFrame;

typedef struct _ConfabVideoEncoder ConfabVideoEncoder;

/* A bitrate that suits @width x @height at @fps (1500 kbps at 720p30, scaled). */
guint confab_video_encoder_default_bitrate (int width, int height, int fps);

/* @bitrate_kbps 0 picks confab_video_encoder_default_bitrate(). @threads 0 picks
 * a count for a 2-core machine. */
ConfabVideoEncoder *confab_video_encoder_new (ConfabVideoCodec codec,
                                              int width,
                                              int height,
                                              int fps,
                                              guint bitrate_kbps,
                                              int threads,
                                              GError **error);
void confab_video_encoder_free (ConfabVideoEncoder *encoder);

ConfabVideoCodec confab_video_encoder_get_codec (ConfabVideoEncoder *encoder);
/* The next encoded frame will be a key frame. */
void confab_video_encoder_request_keyframe (ConfabVideoEncoder *encoder);
gboolean confab_video_encoder_set_bitrate (ConfabVideoEncoder *encoder, guint bitrate_kbps);
/* CPU time spent inside confab_video_encoder_encode() so far, the codec
 * library's worker threads included (process totals: confab-codec-cpu.h). */
guint64 confab_video_encoder_get_cpu_ns (ConfabVideoEncoder *encoder);

/* Encodes @frame (same size as the encoder). Returns TRUE with @out filled, or
 * TRUE with out->size == 0 when rate control dropped the frame, or FALSE on error. */
gboolean confab_video_encoder_encode (ConfabVideoEncoder *encoder,
                                      const ConfabVideoFrame *frame,
                                      ConfabEncodedFrame *out,
                                      GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabVideoEncoder, confab_video_encoder_free)

G_END_DECLS
