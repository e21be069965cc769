/* confab-video-encoder.c: libvpx in realtime mode. Settings follow what
 * PLATFORM.md measured on 2-core machines (VP9 speed 8 with row-mt, VP8
 * cpu-used -8) and what call software uses: CBR, no lag, error resilience. */
#define G_LOG_DOMAIN "confab-video-encoder"

#include "confab-codec-cpu-private.h"
#include "confab-video-encoder-private.h"

#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

/* libvpx counts time in these units; 90 kHz is the RTP video clock. */
#define TIMEBASE_HZ         90000
#define KEYFRAME_INTERVAL_S 5

G_DEFINE_QUARK (confab - media - error - quark, confab_media_error)

struct _ConfabVideoEncoder
{
  ConfabVideoCodec codec;
  vpx_codec_ctx_t ctx;
  vpx_codec_enc_cfg_t cfg;
  vpx_image_t image;
  int width;
  int height;
  int fps;
  gboolean keyframe_requested;
  gboolean initialized;
  vpx_codec_pts_t next_pts;
  ConfabX264Encoder *x264; /* set for H.264 instead of the libvpx context */
  ConfabCodecCpu cpu;
  /* libvpx starts VP9's row-mt workers in the first encode call, VP8's and
   * x264's threads when they open: all are watched for (confab-codec-cpu.c). */
  gboolean encoded_once;
};

gboolean
confab_video_codec_from_string (const char *name, ConfabVideoCodec *codec)
{
  if (g_strcmp0 (name, "vp9") == 0)
    *codec = CONFAB_VIDEO_CODEC_VP9;
  else if (g_strcmp0 (name, "vp8") == 0)
    *codec = CONFAB_VIDEO_CODEC_VP8;
  else if (g_strcmp0 (name, "h264") == 0)
    *codec = CONFAB_VIDEO_CODEC_H264;
  else
    return FALSE;
  return TRUE;
}

const char *
confab_video_codec_to_string (ConfabVideoCodec codec)
{
  switch (codec)
    {
      case CONFAB_VIDEO_CODEC_VP8:
        return "vp8";
      case CONFAB_VIDEO_CODEC_H264:
        return "h264";
      case CONFAB_VIDEO_CODEC_VP9:
      default:
        return "vp9";
    }
}

guint
confab_video_encoder_default_bitrate (int width, int height, int fps)
{
  /* 1280x720x30 / 18432 = 1500 kbps, the top camera tier of PROTOCOL.md §5. */
  guint64 kbps = (guint64) width * height * fps / 18432;
  return (guint) CLAMP (kbps, 100, 8000);
}

static gboolean
control (ConfabVideoEncoder *encoder, int id, int value, const char *name, GError **error)
{
  vpx_codec_err_t err = vpx_codec_control_ (&encoder->ctx, id, value);

  if (err != VPX_CODEC_OK)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT, "libvpx refused %s: %s",
                   name, vpx_codec_err_to_string (err));
      return FALSE;
    }
  return TRUE;
}

ConfabVideoEncoder *
confab_video_encoder_new (ConfabVideoCodec codec,
                          int width,
                          int height,
                          int fps,
                          guint bitrate_kbps,
                          int threads,
                          GError **error)
{
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  vpx_codec_iface_t *iface;
  vpx_codec_err_t err;

  if (width < 16 || height < 16 || width > 8192 || height > 8192 || (width | height) & 1)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INVALID,
                   "Unsupported picture size %dx%d (even sizes from 16x16 to 8192x8192)", width,
                   height);
      return NULL;
    }
  if (fps < 1 || fps > 120)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INVALID,
                   "Unsupported frame rate %d (1 to 120)", fps);
      return NULL;
    }

  encoder = g_new0 (ConfabVideoEncoder, 1);
  confab_codec_cpu_init (&encoder->cpu, CONFAB_CODEC_CPU_VIDEO_ENCODE);
  encoder->codec = codec;
  encoder->width = width;
  encoder->height = height;
  encoder->fps = fps;
  if (codec == CONFAB_VIDEO_CODEC_H264)
    {
      confab_codec_cpu_watch_threads (&encoder->cpu);
      encoder->x264 = confab_x264_encoder_new (
          width, height, fps,
          bitrate_kbps > 0 ? bitrate_kbps
                           : confab_video_encoder_default_bitrate (width, height, fps),
          threads, error);
      confab_codec_cpu_adopt_threads (&encoder->cpu);
      return encoder->x264 != NULL ? g_steal_pointer (&encoder) : NULL;
    }
  iface = codec == CONFAB_VIDEO_CODEC_VP8 ? vpx_codec_vp8_cx () : vpx_codec_vp9_cx ();

  err = vpx_codec_enc_config_default (iface, &encoder->cfg, 0);
  if (err != VPX_CODEC_OK)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "libvpx has no default configuration: %s", vpx_codec_err_to_string (err));
      return NULL;
    }

  /* Sized for 2 cores. VP9 row-mt scales to 2 threads from 640 columns. VP8's
   * threads spin-wait on each other's macroblock rows: measured here, two VP8
   * callers with 2 threads each on 2 cores took 18 ms a frame at 640x360
   * instead of 2.6, while 1 thread encodes 720p at ~245 fps. */
  if (threads <= 0)
    threads = codec == CONFAB_VIDEO_CODEC_VP9 && width >= 640 ? 2 : 1;

  encoder->cfg.g_w = width;
  encoder->cfg.g_h = height;
  encoder->cfg.g_timebase.num = 1;
  encoder->cfg.g_timebase.den = TIMEBASE_HZ;
  encoder->cfg.g_threads = threads;
  encoder->cfg.g_lag_in_frames = 0; /* realtime: every input frame comes out at once */
  encoder->cfg.g_pass = VPX_RC_ONE_PASS;
  /* Receivers may lose frames; do not let one loss corrupt every later frame. */
  encoder->cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  encoder->cfg.rc_end_usage = VPX_CBR;
  encoder->cfg.rc_target_bitrate =
      bitrate_kbps > 0 ? bitrate_kbps : confab_video_encoder_default_bitrate (width, height, fps);
  encoder->cfg.rc_min_quantizer = 2;
  encoder->cfg.rc_max_quantizer = 56;
  encoder->cfg.rc_undershoot_pct = 50;
  encoder->cfg.rc_overshoot_pct = 50;
  encoder->cfg.rc_buf_sz = 1000;
  encoder->cfg.rc_buf_initial_sz = 500;
  encoder->cfg.rc_buf_optimal_sz = 600;
  /* Sequence numbers count sent frames; a dropped frame would only cost
   * motion smoothness, but keep every frame so receivers see a steady rate. */
  encoder->cfg.rc_dropframe_thresh = 0;
  encoder->cfg.kf_mode = VPX_KF_AUTO;
  encoder->cfg.kf_min_dist = 0;
  encoder->cfg.kf_max_dist = fps * KEYFRAME_INTERVAL_S;

  /* VP8 starts its threads here (VP9 in the first encode). */
  confab_codec_cpu_watch_threads (&encoder->cpu);
  err = vpx_codec_enc_init (&encoder->ctx, iface, &encoder->cfg, 0);
  confab_codec_cpu_adopt_threads (&encoder->cpu);
  if (err != VPX_CODEC_OK)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "libvpx cannot start a %s encoder: %s", confab_video_codec_to_string (codec),
                   vpx_codec_error_detail (&encoder->ctx) ? vpx_codec_error_detail (&encoder->ctx)
                                                          : vpx_codec_err_to_string (err));
      return NULL;
    }
  encoder->initialized = TRUE;

  if (codec == CONFAB_VIDEO_CODEC_VP9)
    {
      if (!control (encoder, VP8E_SET_CPUUSED, 8, "VP9 speed 8", error) ||
          !control (encoder, VP9E_SET_ROW_MT, 1, "row-mt", error) ||
          !control (encoder, VP9E_SET_TILE_COLUMNS, threads > 1 ? 1 : 0, "tile columns", error) ||
          /* Cyclic refresh: cheap quality recovery without big key frames. */
          !control (encoder, VP9E_SET_AQ_MODE, 3, "aq-mode", error) ||
          !control (encoder, VP9E_SET_NOISE_SENSITIVITY, 0, "noise sensitivity", error) ||
          !control (encoder, VP8E_SET_STATIC_THRESHOLD, 1, "static threshold", error) ||
          !control (encoder, VP8E_SET_MAX_INTRA_BITRATE_PCT, 300, "max intra bitrate", error))
        return NULL;
    }
  else
    {
      /* Negative cpu-used fixes the speed; a positive one lets libvpx pick. */
      if (!control (encoder, VP8E_SET_CPUUSED, -8, "VP8 cpu-used -8", error) ||
          !control (encoder, VP8E_SET_TOKEN_PARTITIONS, threads > 1 ? 1 : 0, "token partitions",
                    error) ||
          !control (encoder, VP8E_SET_NOISE_SENSITIVITY, 0, "noise sensitivity", error) ||
          !control (encoder, VP8E_SET_STATIC_THRESHOLD, 1, "static threshold", error) ||
          !control (encoder, VP8E_SET_MAX_INTRA_BITRATE_PCT, 300, "max intra bitrate", error))
        return NULL;
    }

  vpx_img_wrap (&encoder->image, VPX_IMG_FMT_I420, width, height, 1, NULL);
  return g_steal_pointer (&encoder);
}

void
confab_video_encoder_free (ConfabVideoEncoder *encoder)
{
  if (encoder == NULL)
    return;
  /* Before the library ends its worker threads and their clocks. */
  confab_codec_cpu_clear (&encoder->cpu);
  if (encoder->initialized)
    vpx_codec_destroy (&encoder->ctx);
  confab_x264_encoder_free (encoder->x264);
  /* vpx_img_wrap() without data allocated a buffer we never use; free it. */
  vpx_img_free (&encoder->image);
  g_free (encoder);
}

ConfabVideoCodec
confab_video_encoder_get_codec (ConfabVideoEncoder *encoder)
{
  return encoder->codec;
}

guint64
confab_video_encoder_get_cpu_ns (ConfabVideoEncoder *encoder)
{
  return encoder->cpu.ns;
}

void
confab_video_encoder_request_keyframe (ConfabVideoEncoder *encoder)
{
  encoder->keyframe_requested = TRUE;
}

gboolean
confab_video_encoder_set_bitrate (ConfabVideoEncoder *encoder, guint bitrate_kbps)
{
  if (encoder->x264 != NULL)
    return confab_x264_encoder_set_bitrate (encoder->x264, bitrate_kbps);
  encoder->cfg.rc_target_bitrate = bitrate_kbps;
  return vpx_codec_enc_config_set (&encoder->ctx, &encoder->cfg) == VPX_CODEC_OK;
}

static gboolean
encode_frame (ConfabVideoEncoder *encoder,
              const ConfabVideoFrame *frame,
              ConfabEncodedFrame *out,
              GError **error)
{
  vpx_codec_iter_t iter = NULL;
  const vpx_codec_cx_pkt_t *pkt;
  vpx_enc_frame_flags_t flags = 0;
  vpx_codec_err_t err;
  unsigned long duration = TIMEBASE_HZ / encoder->fps;

  g_return_val_if_fail (frame->width == encoder->width && frame->height == encoder->height, FALSE);
  g_return_val_if_fail (frame->format == CONFAB_PIXEL_FORMAT_I420, FALSE);

  if (encoder->x264 != NULL)
    {
      gboolean force_key = encoder->keyframe_requested;

      encoder->keyframe_requested = FALSE;
      return confab_x264_encoder_encode (encoder->x264, frame, force_key, out, error);
    }

  /* Point libvpx at the frame's planes: no copy. */
  for (int i = 0; i < 3; i++)
    {
      encoder->image.planes[i] = frame->planes[i];
      encoder->image.stride[i] = frame->strides[i];
    }

  if (encoder->keyframe_requested)
    flags |= VPX_EFLAG_FORCE_KF;
  encoder->keyframe_requested = FALSE;

  err = vpx_codec_encode (&encoder->ctx, &encoder->image, encoder->next_pts, duration, flags,
                          VPX_DL_REALTIME);
  encoder->next_pts += duration;
  if (err != VPX_CODEC_OK)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_ENCODE, "libvpx encode failed: %s",
                   vpx_codec_err_to_string (err));
      return FALSE;
    }

  out->data = NULL;
  out->size = 0;
  out->is_key = FALSE;
  out->pts_us = frame->pts_us;
  /* Without lag or spatial layers there is at most one frame packet. */
  while ((pkt = vpx_codec_get_cx_data (&encoder->ctx, &iter)) != NULL)
    if (pkt->kind == VPX_CODEC_CX_FRAME_PKT && out->size == 0)
      {
        out->data = pkt->data.frame.buf;
        out->size = pkt->data.frame.sz;
        out->is_key = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
      }
  return TRUE;
}

gboolean
confab_video_encoder_encode (ConfabVideoEncoder *encoder,
                             const ConfabVideoFrame *frame,
                             ConfabEncodedFrame *out,
                             GError **error)
{
  gint64 begin = confab_codec_cpu_begin ();
  gboolean ok;

  if (!encoder->encoded_once)
    confab_codec_cpu_watch_threads (&encoder->cpu);
  ok = encode_frame (encoder, frame, out, error);
  if (!encoder->encoded_once)
    {
      confab_codec_cpu_adopt_threads (&encoder->cpu);
      encoder->encoded_once = TRUE;
    }
  confab_codec_cpu_end (&encoder->cpu, begin);
  return ok;
}
