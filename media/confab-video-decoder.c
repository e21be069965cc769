/* confab-video-decoder.c: VP8/VP9 through libvpx, H.264 through libavcodec.
 *
 * Pictures leave without a copy where the library lets them outlive the next
 * decode call:
 * - VP9: libvpx decodes into frame buffers we lend it (external frame buffer
 *   functions); a ConfabVideoFrame takes a reference on the buffer, and the
 *   buffer goes back to a small pool when both libvpx and the last frame are
 *   done with it. A renderer holding a picture never blocks the decoder.
 * - H.264: FFmpeg frames are refcounted already; the ConfabVideoFrame owns an
 *   AVFrame reference.
 * - VP8: libvpx has no external buffers for VP8 and reuses its own after the
 *   next decode call, so the picture is copied once into a ConfabVideoFrame
 *   (a 720p copy costs ~0.1 ms, a small part of the ~1.3 ms decode). */
#define G_LOG_DOMAIN "confab-video-decoder"

#include "confab-video-decoder.h"

#include "confab-codec-cpu-private.h"
#include "confab-ffmpeg-private.h"

#include <libavcodec/avcodec.h>
#include <string.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_frame_buffer.h>

/* Free buffers kept for reuse: libvpx VP9 holds up to 8 references plus the
 * frames a renderer and a recorder may still hold. */
#define POOL_MAX_FREE 12

typedef struct _BufferPool BufferPool;

typedef struct
{
  gint refcount;
  BufferPool *pool;
  guint8 *data;
  gsize size;
} Buffer;

struct _BufferPool
{
  gint refcount;
  GMutex lock;
  GPtrArray *free_buffers; /* Buffer, refcount 0 */
};

struct _ConfabVideoDecoder
{
  ConfabVideoCodec codec;
  int threads;
  guint64 frames_decoded;
  guint64 errors;
  ConfabCodecCpu cpu;
  /* With threads > 1 the libraries start workers (FFmpeg when it opens,
   * libvpx in the first decode), which the CPU count must include. */
  gboolean workers_found;

  /* libvpx (VP8, VP9) */
  vpx_codec_ctx_t vpx;
  gboolean vpx_initialized;
  BufferPool *pool; /* VP9 only */

  /* libavcodec (H.264) */
  AVCodecContext *av;
  AVPacket *packet;
  AVFrame *frame;
};

static void
buffer_free (gpointer data)
{
  Buffer *buffer = data;

  g_free (buffer->data);
  g_free (buffer);
}

static BufferPool *
pool_new (void)
{
  BufferPool *pool = g_new0 (BufferPool, 1);

  pool->refcount = 1;
  g_mutex_init (&pool->lock);
  pool->free_buffers = g_ptr_array_new_with_free_func (buffer_free);
  return pool;
}

static void
pool_unref (BufferPool *pool)
{
  if (!g_atomic_int_dec_and_test (&pool->refcount))
    return;
  g_ptr_array_unref (pool->free_buffers);
  g_mutex_clear (&pool->lock);
  g_free (pool);
}

/* May run on any thread: the renderer drops its last frame reference. */
static void
buffer_unref (gpointer data)
{
  Buffer *buffer = data;
  BufferPool *pool = buffer->pool;

  if (!g_atomic_int_dec_and_test (&buffer->refcount))
    return;
  g_mutex_lock (&pool->lock);
  if (pool->free_buffers->len < POOL_MAX_FREE)
    {
      g_ptr_array_add (pool->free_buffers, buffer);
      buffer = NULL;
    }
  g_mutex_unlock (&pool->lock);
  if (buffer != NULL)
    buffer_free (buffer);
  pool_unref (pool);
}

static int
vpx_get_buffer (void *priv, size_t min_size, vpx_codec_frame_buffer_t *fb)
{
  BufferPool *pool = priv;
  Buffer *buffer = NULL;

  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < pool->free_buffers->len; i++)
    {
      Buffer *candidate = g_ptr_array_index (pool->free_buffers, i);
      if (candidate->size >= min_size)
        {
          buffer = g_ptr_array_steal_index_fast (pool->free_buffers, i);
          break;
        }
    }
  g_mutex_unlock (&pool->lock);

  if (buffer == NULL)
    {
      buffer = g_new0 (Buffer, 1);
      /* libvpx requires new buffers zeroed (it may read borders it never wrote). */
      buffer->data = g_try_malloc0 (min_size);
      if (buffer->data == NULL)
        {
          g_free (buffer);
          return -1;
        }
      buffer->size = min_size;
    }
  buffer->refcount = 1; /* libvpx's reference, dropped in vpx_release_buffer() */
  buffer->pool = pool;
  g_atomic_int_inc (&pool->refcount);
  fb->data = buffer->data;
  fb->size = buffer->size;
  fb->priv = buffer;
  return 0;
}

static int
vpx_release_buffer (void *priv, vpx_codec_frame_buffer_t *fb)
{
  (void) priv;
  if (fb->priv != NULL)
    buffer_unref (fb->priv);
  return 0;
}

static gboolean
init_h264 (ConfabVideoDecoder *decoder, int threads, GError **error)
{
  const AVCodec *codec = avcodec_find_decoder (AV_CODEC_ID_H264);
  int ret;

  confab_ffmpeg_route_logs ();
  if (codec == NULL)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "This FFmpeg has no H.264 decoder");
      return FALSE;
    }
  decoder->av = avcodec_alloc_context3 (codec);
  decoder->packet = av_packet_alloc ();
  decoder->frame = av_frame_alloc ();
  if (decoder->av == NULL || decoder->packet == NULL || decoder->frame == NULL)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT, "Out of memory");
      return FALSE;
    }
  /* Slice threads only: frame threads would hold back one frame per thread. */
  decoder->av->thread_count = threads;
  decoder->av->thread_type = FF_THREAD_SLICE;
  decoder->av->flags |= AV_CODEC_FLAG_LOW_DELAY;
  /* Report broken frames instead of showing their smeared pictures: the jitter
   * buffer then waits for a key frame. */
  decoder->av->flags &= ~AV_CODEC_FLAG_OUTPUT_CORRUPT;
  decoder->av->err_recognition |= AV_EF_EXPLODE;
  ret = avcodec_open2 (decoder->av, codec, NULL);
  if (ret < 0)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "Cannot open the H.264 decoder: %s", av_err2str (ret));
      return FALSE;
    }
  return TRUE;
}

static gboolean
init_vpx (ConfabVideoDecoder *decoder, GError **error)
{
  vpx_codec_dec_cfg_t cfg = { .threads = (unsigned) decoder->threads };
  vpx_codec_iface_t *iface =
      decoder->codec == CONFAB_VIDEO_CODEC_VP8 ? vpx_codec_vp8_dx () : vpx_codec_vp9_dx ();
  vpx_codec_err_t err;

  err = vpx_codec_dec_init (&decoder->vpx, iface, &cfg, 0);
  if (err != VPX_CODEC_OK)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "libvpx cannot start a %s decoder: %s",
                   confab_video_codec_to_string (decoder->codec), vpx_codec_err_to_string (err));
      return FALSE;
    }
  decoder->vpx_initialized = TRUE;
  if (decoder->codec == CONFAB_VIDEO_CODEC_VP9)
    {
      if (decoder->pool == NULL)
        decoder->pool = pool_new ();
      err = vpx_codec_set_frame_buffer_functions (&decoder->vpx, vpx_get_buffer, vpx_release_buffer,
                                                  decoder->pool);
      if (err != VPX_CODEC_OK)
        {
          g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                       "libvpx refused our frame buffers: %s", vpx_codec_err_to_string (err));
          return FALSE;
        }
    }
  return TRUE;
}

ConfabVideoDecoder *
confab_video_decoder_new (ConfabVideoCodec codec, int threads, GError **error)
{
  g_autoptr (ConfabVideoDecoder) decoder = NULL;

  if (codec != CONFAB_VIDEO_CODEC_VP8 && codec != CONFAB_VIDEO_CODEC_VP9 &&
      codec != CONFAB_VIDEO_CODEC_H264)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INVALID, "Unknown video codec %d",
                   (int) codec);
      return NULL;
    }
  if (threads <= 0)
    threads = 1;
  decoder = g_new0 (ConfabVideoDecoder, 1);
  confab_codec_cpu_init (&decoder->cpu, CONFAB_CODEC_CPU_VIDEO_DECODE);
  decoder->codec = codec;
  decoder->threads = threads;
  decoder->workers_found = threads == 1;
  if (!decoder->workers_found)
    confab_codec_cpu_watch_threads (&decoder->cpu);
  if (codec == CONFAB_VIDEO_CODEC_H264 ? !init_h264 (decoder, threads, error)
                                       : !init_vpx (decoder, error))
    return NULL;
  return g_steal_pointer (&decoder);
}

void
confab_video_decoder_free (ConfabVideoDecoder *decoder)
{
  if (decoder == NULL)
    return;
  /* Before the libraries end their worker threads and their clocks. */
  confab_codec_cpu_clear (&decoder->cpu);
  /* libvpx releases its buffers here; frames still out keep the pool alive. */
  if (decoder->vpx_initialized)
    vpx_codec_destroy (&decoder->vpx);
  if (decoder->pool != NULL)
    pool_unref (decoder->pool);
  avcodec_free_context (&decoder->av);
  av_packet_free (&decoder->packet);
  av_frame_free (&decoder->frame);
  g_free (decoder);
}

ConfabVideoCodec
confab_video_decoder_get_codec (ConfabVideoDecoder *decoder)
{
  return decoder->codec;
}

guint64
confab_video_decoder_get_frames_decoded (ConfabVideoDecoder *decoder)
{
  return decoder->frames_decoded;
}

guint64
confab_video_decoder_get_cpu_ns (ConfabVideoDecoder *decoder)
{
  return decoder->cpu.ns;
}

guint64
confab_video_decoder_get_errors (ConfabVideoDecoder *decoder)
{
  return decoder->errors;
}

static gboolean
fail (ConfabVideoDecoder *decoder, GError **error, const char *detail)
{
  decoder->errors++;
  g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE, "Broken %s frame: %s",
               confab_video_codec_to_string (decoder->codec), detail);
  return FALSE;
}

/* After a broken frame only a key frame helps, so start from a clean context.
 * libvpx 1.12's VP9 decoder needs it: a corrupt frame can leave its internal
 * frame slots referenced, and after a few it refuses every later frame
 * ("Unable to find free frame buffer"), key frames included. */
static gboolean
fail_and_reset (ConfabVideoDecoder *decoder, GError **error, const char *detail)
{
  g_autofree char *copy = g_strdup (detail); /* may point into the old context */
  g_autoptr (GError) local_error = NULL;

  if (decoder->vpx_initialized)
    {
      /* The new context starts its own workers on its first decode. */
      confab_codec_cpu_clear (&decoder->cpu);
      decoder->workers_found = decoder->threads == 1;
      vpx_codec_destroy (&decoder->vpx);
      decoder->vpx_initialized = FALSE;
      if (!init_vpx (decoder, &local_error))
        g_warning ("Cannot restart the %s decoder: %s",
                   confab_video_codec_to_string (decoder->codec), local_error->message);
    }
  else if (decoder->av != NULL)
    avcodec_flush_buffers (decoder->av);
  return fail (decoder, error, copy);
}

static void
copy_plane (guint8 *dst, int dst_stride, const guint8 *src, int src_stride, int width, int height)
{
  for (int y = 0; y < height; y++)
    memcpy (dst + (gsize) y * dst_stride, src + (gsize) y * src_stride, width);
}

static gboolean
decode_vpx (ConfabVideoDecoder *decoder,
            const guint8 *data,
            gsize size,
            gint64 pts_us,
            ConfabVideoFrame **out,
            GError **error)
{
  vpx_codec_iter_t iter = NULL;
  vpx_codec_err_t err;
  vpx_image_t *image;
  int corrupted = 0;
  guint8 *planes[3];
  int strides[3];

  if (size > G_MAXUINT)
    return fail (decoder, error, "too large");
  if (!decoder->vpx_initialized)
    return fail_and_reset (decoder, error, "decoder could not restart");
  err = vpx_codec_decode (&decoder->vpx, data, (unsigned) size, NULL, 0);
  if (err != VPX_CODEC_OK)
    {
      const char *detail = vpx_codec_error_detail (&decoder->vpx);
      return fail_and_reset (decoder, error,
                             detail != NULL ? detail : vpx_codec_err_to_string (err));
    }
  /* libvpx may conceal a damaged partition and still say OK; it admits it here. */
  if (vpx_codec_control (&decoder->vpx, VP8D_GET_FRAME_CORRUPTED, &corrupted) == VPX_CODEC_OK &&
      corrupted)
    return fail_and_reset (decoder, error, "corrupt or missing reference");

  image = vpx_codec_get_frame (&decoder->vpx, &iter);
  if (image == NULL)
    return TRUE; /* a hidden frame: valid, nothing to show */
  if (image->fmt != VPX_IMG_FMT_I420 || image->bit_depth != 8)
    return fail (decoder, error, "unsupported picture format (not 8-bit I420)");

  if (decoder->codec == CONFAB_VIDEO_CODEC_VP9 && image->fb_priv != NULL)
    {
      Buffer *buffer = image->fb_priv;

      for (int i = 0; i < 3; i++)
        {
          planes[i] = image->planes[i];
          strides[i] = image->stride[i];
        }
      g_atomic_int_inc (&buffer->refcount);
      *out =
          confab_video_frame_new_wrapped (CONFAB_PIXEL_FORMAT_I420, (int) image->d_w,
                                          (int) image->d_h, planes, strides, buffer_unref, buffer);
    }
  else
    {
      int cw = ((int) image->d_w + 1) / 2, ch = ((int) image->d_h + 1) / 2;

      *out = confab_video_frame_new ((int) image->d_w, (int) image->d_h);
      copy_plane ((*out)->planes[0], (*out)->strides[0], image->planes[0], image->stride[0],
                  (int) image->d_w, (int) image->d_h);
      copy_plane ((*out)->planes[1], (*out)->strides[1], image->planes[1], image->stride[1], cw,
                  ch);
      copy_plane ((*out)->planes[2], (*out)->strides[2], image->planes[2], image->stride[2], cw,
                  ch);
    }
  (*out)->pts_us = pts_us;
  decoder->frames_decoded++;
  return TRUE;
}

static void
release_av_frame (gpointer data)
{
  AVFrame *frame = data;

  if (frame != NULL)
    av_frame_free (&frame);
}

static gboolean
decode_h264 (ConfabVideoDecoder *decoder,
             const guint8 *data,
             gsize size,
             gint64 pts_us,
             ConfabVideoFrame **out,
             GError **error)
{
  AVFrame *held = NULL;
  guint8 *planes[3];
  int strides[3];
  int ret;

  if (size == 0 || size > G_MAXINT)
    return fail (decoder, error, "empty or too large");
  /* The packet borrows our data: send_packet copies what it keeps, because
   * the packet has no AVBufferRef. */
  decoder->packet->data = (guint8 *) data;
  decoder->packet->size = (int) size;
  decoder->packet->pts = pts_us;
  ret = avcodec_send_packet (decoder->av, decoder->packet);
  decoder->packet->data = NULL;
  decoder->packet->size = 0;
  if (ret < 0)
    return fail (decoder, error, av_err2str (ret));

  /* Low delay and no B-frames: one frame in, at most one picture out. Drain
   * anyway so a stray extra picture cannot build latency; the newest wins. */
  while ((ret = avcodec_receive_frame (decoder->av, decoder->frame)) >= 0)
    {
      if (held == NULL)
        held = av_frame_alloc ();
      else
        av_frame_unref (held);
      if (held == NULL)
        {
          av_frame_unref (decoder->frame);
          return fail (decoder, error, "out of memory");
        }
      av_frame_move_ref (held, decoder->frame);
    }
  if (ret != AVERROR (EAGAIN) && ret != AVERROR_EOF)
    {
      release_av_frame (held);
      return fail (decoder, error, av_err2str (ret));
    }
  if (held == NULL)
    return fail (decoder, error, "no picture (corrupt or missing reference)");
  if (held->format != AV_PIX_FMT_YUV420P && held->format != AV_PIX_FMT_YUVJ420P)
    {
      release_av_frame (held);
      return fail (decoder, error, "unsupported picture format (not 8-bit 4:2:0)");
    }
  for (int i = 0; i < 3; i++)
    {
      planes[i] = held->data[i];
      strides[i] = held->linesize[i];
    }
  *out = confab_video_frame_new_wrapped (CONFAB_PIXEL_FORMAT_I420, held->width, held->height,
                                         planes, strides, release_av_frame, held);
  (*out)->pts_us = pts_us;
  decoder->frames_decoded++;
  return TRUE;
}

gboolean
confab_video_decoder_decode (ConfabVideoDecoder *decoder,
                             const guint8 *data,
                             gsize size,
                             gint64 pts_us,
                             ConfabVideoFrame **out,
                             GError **error)
{
  gint64 begin = confab_codec_cpu_begin ();
  gboolean watching = !decoder->workers_found;
  gboolean ok;

  g_return_val_if_fail (out != NULL && *out == NULL, FALSE);

  if (data == NULL || size == 0)
    return fail (decoder, error, "empty");
  if (watching && decoder->cpu.snapshot == NULL)
    confab_codec_cpu_watch_threads (&decoder->cpu);
  if (decoder->codec == CONFAB_VIDEO_CODEC_H264)
    ok = decode_h264 (decoder, data, size, pts_us, out, error);
  else
    ok = decode_vpx (decoder, data, size, pts_us, out, error);
  /* (A reset inside this call dropped the snapshot: the next call watches.) */
  if (watching && decoder->cpu.snapshot != NULL)
    {
      confab_codec_cpu_adopt_threads (&decoder->cpu);
      decoder->workers_found = TRUE;
    }
  confab_codec_cpu_end (&decoder->cpu, begin);
  return ok;
}
