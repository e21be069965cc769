/* confab-pipewire-camera.c: a pw_stream reading a Video/Source. The process
 * callback runs on PipeWire's thread: it drains every queued buffer, keeps
 * only the newest, copies (or converts) it into a pooled I420 frame, gives
 * the PipeWire buffer straight back and drops the frame into a
 * ConfabFrameSlot; a wake-up source emits it on the owner's main context.
 * Nothing there waits on the GLib side. */
#define G_LOG_DOMAIN "confab-pipewire-camera"

#include "confab-pipewire-camera.h"

#include "confab-frame-slot.h"
#include "confab-pipewire-private.h"

#include <spa/debug/types.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/video/type-info.h>
#include <string.h>

#define START_TIMEOUT_S 5
#define POOL_SIZE       3 /* ours, the slot's, the consumer's */

struct _ConfabCameraSource
{
  GObject parent_instance;

  /* Owned */
  ConfabPipewire *pipewire;
  GMainContext *context;
  GSource *wakeup;
  GSource *start_timeout;
  ConfabFrameSlot *slot;
  struct pw_stream *stream; /* under the loop lock */
  struct spa_hook stream_listener;

  char *target;

  /* PipeWire thread only */
  ConfabVideoFrame *pool[POOL_SIZE];
  gboolean streamed;

  /* Under lock (PipeWire thread writes, main context reads) */
  GMutex lock;
  gboolean negotiated;
  struct spa_video_info_raw format;
  GError *pending_error;
  guint64 captured;

  /* Main context only */
  gboolean failed;
  gint64 handover_sum_us;
  gint64 handover_max_us;
  guint64 handovers;
};

enum
{
  SIGNAL_FRAME,
  SIGNAL_ERROR,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ConfabCameraSource, confab_camera_source, G_TYPE_OBJECT)

/* From PipeWire's thread: the first failure is kept for the main context. */
static void
report_error (ConfabCameraSource *self, ConfabPipewireError code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
report_error (ConfabCameraSource *self, ConfabPipewireError code, const char *format, ...)
{
  va_list args;

  g_mutex_lock (&self->lock);
  if (self->pending_error == NULL)
    {
      va_start (args, format);
      self->pending_error = g_error_new_valist (CONFAB_PIPEWIRE_ERROR, code, format, args);
      va_end (args);
    }
  g_mutex_unlock (&self->lock);
  confab_wakeup (self->wakeup);
}

/* ---- pixels ------------------------------------------------------------------------ */

/* Where the planes of @buf are, checked against the buffer's real size, so
 * a producer announcing more than it maps cannot make us read past it. */
static gboolean
locate_planes (struct spa_buffer *buf,
               const struct spa_video_info_raw *info,
               const guint8 *planes[3],
               int strides[3])
{
  int w = info->size.width, h = info->size.height;
  int cw = (w + 1) / 2, ch = (h + 1) / 2;
  int n_planes = info->format == SPA_VIDEO_FORMAT_I420   ? 3
                 : info->format == SPA_VIDEO_FORMAT_NV12 ? 2
                                                         : 1;
  int min_stride[3], rows[3];

  switch (info->format)
    {
      case SPA_VIDEO_FORMAT_I420:
        min_stride[0] = w, min_stride[1] = min_stride[2] = cw;
        rows[0] = h, rows[1] = rows[2] = ch;
        break;
      case SPA_VIDEO_FORMAT_NV12:
        min_stride[0] = w, min_stride[1] = 2 * cw;
        rows[0] = h, rows[1] = ch;
        break;
      default: /* YUY2 */
        min_stride[0] = 4 * cw;
        rows[0] = h;
        break;
    }

  if (buf->n_datas >= (guint32) n_planes)
    {
      /* One spa_data per plane. */
      for (int i = 0; i < n_planes; i++)
        {
          struct spa_data *d = &buf->datas[i];
          guint32 offset, avail;

          if (d->data == NULL || d->chunk == NULL)
            return FALSE;
          offset = d->chunk->offset % MAX (d->maxsize, 1);
          avail =
              d->chunk->size != 0 ? MIN (d->chunk->size, d->maxsize - offset) : d->maxsize - offset;
          strides[i] = d->chunk->stride > 0 ? d->chunk->stride : min_stride[i];
          if (strides[i] < min_stride[i] || (guint64) strides[i] * rows[i] > avail)
            return FALSE;
          planes[i] = (const guint8 *) d->data + offset;
        }
      return TRUE;
    }
  else if (buf->n_datas >= 1)
    {
      /* All planes in one memory, packed as GStreamer lays them out. */
      struct spa_data *d = &buf->datas[0];
      guint32 offset, avail;
      guint64 need = 0;

      if (d->data == NULL || d->chunk == NULL)
        return FALSE;
      offset = d->chunk->offset % MAX (d->maxsize, 1);
      avail = d->chunk->size != 0 ? MIN (d->chunk->size, d->maxsize - offset) : d->maxsize - offset;
      strides[0] = d->chunk->stride > 0 ? d->chunk->stride : min_stride[0];
      if (info->format == SPA_VIDEO_FORMAT_I420)
        strides[1] = strides[2] = strides[0] / 2;
      else if (info->format == SPA_VIDEO_FORMAT_NV12)
        strides[1] = strides[0];
      planes[0] = (const guint8 *) d->data + offset;
      for (int i = 0; i < n_planes; i++)
        {
          if (strides[i] < min_stride[i])
            return FALSE;
          if (i > 0)
            planes[i] = planes[0] + need;
          need += (guint64) strides[i] * rows[i];
        }
      return need <= avail;
    }
  return FALSE;
}

static void
copy_plane (guint8 *dst, int dst_stride, const guint8 *src, int src_stride, int width, int rows)
{
  for (int y = 0; y < rows; y++)
    memcpy (dst + (gsize) y * dst_stride, src + (gsize) y * src_stride, width);
}

static void
convert_to_i420 (const struct spa_video_info_raw *info,
                 const guint8 *const planes[3],
                 const int strides[3],
                 ConfabVideoFrame *out)
{
  int w = info->size.width, h = info->size.height;
  int cw = (w + 1) / 2, ch = (h + 1) / 2;

  switch (info->format)
    {
      case SPA_VIDEO_FORMAT_I420:
        copy_plane (out->planes[0], out->strides[0], planes[0], strides[0], w, h);
        copy_plane (out->planes[1], out->strides[1], planes[1], strides[1], cw, ch);
        copy_plane (out->planes[2], out->strides[2], planes[2], strides[2], cw, ch);
        break;
      case SPA_VIDEO_FORMAT_NV12:
        copy_plane (out->planes[0], out->strides[0], planes[0], strides[0], w, h);
        for (int y = 0; y < ch; y++)
          {
            const guint8 *uv = planes[1] + (gsize) y * strides[1];
            guint8 *u = out->planes[1] + (gsize) y * out->strides[1];
            guint8 *v = out->planes[2] + (gsize) y * out->strides[2];

            for (int x = 0; x < cw; x++)
              {
                u[x] = uv[2 * x];
                v[x] = uv[2 * x + 1];
              }
          }
        break;
      default: /* YUY2: Y0 U Y1 V; chroma of the even row (4:2:2 -> 4:2:0) */
        for (int y = 0; y < h; y++)
          {
            const guint8 *p = planes[0] + (gsize) y * strides[0];
            guint8 *dy = out->planes[0] + (gsize) y * out->strides[0];

            for (int x = 0; x < w; x++)
              dy[x] = p[2 * x];
            if ((y & 1) == 0)
              {
                guint8 *u = out->planes[1] + (gsize) (y / 2) * out->strides[1];
                guint8 *v = out->planes[2] + (gsize) (y / 2) * out->strides[2];

                for (int x = 0; x < cw; x++)
                  {
                    u[x] = p[4 * x + 1];
                    v[x] = p[4 * x + 3];
                  }
              }
          }
        break;
    }
}

/* A frame from the pool nobody else holds, or a new one: a slow consumer
 * costs an allocation, never a wait. */
static ConfabVideoFrame *
pool_acquire (ConfabCameraSource *self, int width, int height)
{
  for (int i = 0; i < POOL_SIZE; i++)
    {
      ConfabVideoFrame *f = self->pool[i];

      if (f != NULL && f->width == width && f->height == height &&
          confab_video_frame_is_writable (f))
        return confab_video_frame_ref (f);
    }
  for (int i = 0; i < POOL_SIZE; i++)
    {
      ConfabVideoFrame *f = self->pool[i];

      if (f == NULL || !confab_video_frame_is_writable (f) || f->width != width ||
          f->height != height)
        {
          confab_video_frame_unref (f);
          self->pool[i] = confab_video_frame_new (width, height);
          return confab_video_frame_ref (self->pool[i]);
        }
    }
  g_assert_not_reached ();
}

/* ---- stream events (PipeWire's thread) ------------------------------------------------ */

static void
on_process (void *data)
{
  ConfabCameraSource *self = data;
  struct pw_buffer *b, *newest = NULL;
  const guint8 *planes[3] = { NULL };
  int strides[3] = { 0 };
  struct spa_video_info_raw info;
  ConfabVideoFrame *frame;

  /* Latest frame wins: older queued buffers go straight back. */
  while ((b = pw_stream_dequeue_buffer (self->stream)) != NULL)
    {
      if (newest != NULL)
        pw_stream_queue_buffer (self->stream, newest);
      newest = b;
    }
  if (newest == NULL)
    return;

  g_mutex_lock (&self->lock);
  info = self->format;
  g_mutex_unlock (&self->lock);

  if (info.size.width == 0 || !locate_planes (newest->buffer, &info, planes, strides))
    {
      pw_stream_queue_buffer (self->stream, newest);
      return;
    }
  frame = pool_acquire (self, info.size.width, info.size.height);
  convert_to_i420 (&info, planes, strides, frame);
  pw_stream_queue_buffer (self->stream, newest);

  frame->pts_us = g_get_monotonic_time ();
  self->streamed = TRUE;
  g_mutex_lock (&self->lock);
  self->captured++;
  g_mutex_unlock (&self->lock);
  confab_frame_slot_put (self->slot, frame);
  confab_video_frame_unref (frame);
  confab_wakeup (self->wakeup);
}

static void
on_param_changed (void *data, uint32_t id, const struct spa_pod *param)
{
  ConfabCameraSource *self = data;
  struct spa_video_info_raw info = { 0 };
  guint32 media_type, media_subtype;
  guint8 buffer[256];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (buffer, sizeof buffer);
  const struct spa_pod *params[1];

  if (id != SPA_PARAM_Format)
    return;
  if (param == NULL)
    {
      /* The link went away. We asked not to be moved to another camera,
       * so after frames this is the camera leaving. */
      g_mutex_lock (&self->lock);
      self->negotiated = FALSE;
      g_mutex_unlock (&self->lock);
      if (self->streamed)
        report_error (self, CONFAB_PIPEWIRE_ERROR_DEVICE_GONE, "The camera disappeared");
      return;
    }
  if (spa_format_parse (param, &media_type, &media_subtype) < 0 ||
      media_type != SPA_MEDIA_TYPE_video || media_subtype != SPA_MEDIA_SUBTYPE_raw ||
      spa_format_video_raw_parse (param, &info) < 0)
    return;
  if ((info.format != SPA_VIDEO_FORMAT_I420 && info.format != SPA_VIDEO_FORMAT_NV12 &&
       info.format != SPA_VIDEO_FORMAT_YUY2) ||
      info.size.width < 2 || info.size.height < 2 || info.size.width > 8192 ||
      info.size.height > 8192)
    {
      report_error (self, CONFAB_PIPEWIRE_ERROR_FORMAT, "The camera offers no usable format");
      return;
    }

  g_mutex_lock (&self->lock);
  self->format = info;
  self->negotiated = TRUE;
  g_mutex_unlock (&self->lock);
  confab_wakeup (self->wakeup);
  g_debug ("camera format %s %ux%u@%u/%u",
           spa_debug_type_find_short_name (spa_type_video_format, info.format), info.size.width,
           info.size.height, info.framerate.num, info.framerate.denom);

  /* Buffers we can read with the CPU: mapped memory, no DMA-BUF. */
  params[0] = spa_pod_builder_add_object (
      &b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
      SPA_POD_CHOICE_RANGE_Int (4, 2, 16), SPA_PARAM_BUFFERS_dataType,
      SPA_POD_CHOICE_FLAGS_Int ((1 << SPA_DATA_MemPtr) | (1 << SPA_DATA_MemFd)));
  pw_stream_update_params (self->stream, params, 1);
}

static void
on_state_changed (void *data,
                  enum pw_stream_state old,
                  enum pw_stream_state state,
                  const char *error)
{
  ConfabCameraSource *self = data;

  g_debug ("camera stream %s -> %s (%s)", pw_stream_state_as_string (old),
           pw_stream_state_as_string (state), error ? error : "");
  if (state == PW_STREAM_STATE_ERROR)
    report_error (self,
                  self->streamed ? CONFAB_PIPEWIRE_ERROR_DEVICE_GONE : CONFAB_PIPEWIRE_ERROR_STREAM,
                  "Camera stream failed: %s", error != NULL ? error : "unknown error");
  else if (state == PW_STREAM_STATE_UNCONNECTED && !confab_pipewire_is_connected (self->pipewire))
    report_error (self, CONFAB_PIPEWIRE_ERROR_DISCONNECTED, "Lost the connection to PipeWire");
  else if (state == PW_STREAM_STATE_UNCONNECTED)
    /* The session manager unlinks a stream that may not move elsewhere. */
    report_error (self,
                  self->streamed ? CONFAB_PIPEWIRE_ERROR_DEVICE_GONE : CONFAB_PIPEWIRE_ERROR_STREAM,
                  self->streamed ? "The camera disappeared" : "No such camera: %s",
                  self->target != NULL ? self->target : "(default)");
}

static const struct pw_stream_events stream_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_state_changed,
  .param_changed = on_param_changed,
  .process = on_process,
};

/* ---- main context ------------------------------------------------------------------- */

static void
stop_stream (ConfabCameraSource *self)
{
  if (self->stream == NULL)
    return;
  /* A process call PipeWire already queued for its loop must run before the
   * stream goes: disconnect, let the loop drain, then destroy. */
  confab_pipewire_lock (self->pipewire);
  pw_stream_disconnect (self->stream);
  confab_pipewire_unlock (self->pipewire);
  confab_pipewire_roundtrip (self->pipewire, 1000);
  confab_pipewire_lock (self->pipewire);
  spa_hook_remove (&self->stream_listener);
  pw_stream_destroy (self->stream);
  self->stream = NULL;
  confab_pipewire_unlock (self->pipewire);
}

static void
fail (ConfabCameraSource *self, GError *error)
{
  if (self->failed)
    return;
  self->failed = TRUE;
  g_debug ("camera failed: %s", error->message);
  if (self->start_timeout != NULL)
    {
      g_source_destroy (self->start_timeout);
      g_clear_pointer (&self->start_timeout, g_source_unref);
    }
  stop_stream (self);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

static gboolean
on_wakeup (gpointer data)
{
  ConfabCameraSource *self = data;
  g_autoptr (ConfabVideoFrame) frame = NULL;
  g_autoptr (GError) error = NULL;

  g_object_ref (self);
  g_mutex_lock (&self->lock);
  error = g_steal_pointer (&self->pending_error);
  if (self->negotiated && self->start_timeout != NULL)
    {
      g_source_destroy (self->start_timeout);
      g_clear_pointer (&self->start_timeout, g_source_unref);
    }
  g_mutex_unlock (&self->lock);

  frame = confab_frame_slot_take (self->slot);
  if (frame != NULL && !self->failed)
    {
      gint64 delay = g_get_monotonic_time () - frame->pts_us;

      self->handover_sum_us += delay;
      self->handover_max_us = MAX (self->handover_max_us, delay);
      self->handovers++;
      g_signal_emit (self, signals[SIGNAL_FRAME], 0, frame);
    }
  if (error != NULL)
    fail (self, error);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_start_timeout (gpointer data)
{
  ConfabCameraSource *self = data;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&self->start_timeout, g_source_unref);
  error = g_error_new (CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM,
                       "No camera started within %d s", START_TIMEOUT_S);
  fail (self, error);
  return G_SOURCE_REMOVE;
}

static void
confab_camera_source_finalize (GObject *object)
{
  ConfabCameraSource *self = CONFAB_CAMERA_SOURCE (object);

  stop_stream (self);
  if (self->start_timeout != NULL)
    {
      g_source_destroy (self->start_timeout);
      g_source_unref (self->start_timeout);
    }
  if (self->wakeup != NULL)
    {
      g_source_destroy (self->wakeup);
      g_source_unref (self->wakeup);
    }
  for (int i = 0; i < POOL_SIZE; i++)
    confab_video_frame_unref (self->pool[i]);
  g_clear_pointer (&self->slot, confab_frame_slot_free);
  g_clear_error (&self->pending_error);
  g_free (self->target);
  g_mutex_clear (&self->lock);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->pipewire);

  G_OBJECT_CLASS (confab_camera_source_parent_class)->finalize (object);
}

static void
confab_camera_source_class_init (ConfabCameraSourceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_camera_source_finalize;

  signals[SIGNAL_FRAME] =
      g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, CONFAB_TYPE_VIDEO_FRAME | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_ERROR] =
      g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_camera_source_init (ConfabCameraSource *self)
{
  g_mutex_init (&self->lock);
}

ConfabCameraSource *
confab_camera_source_new (
    ConfabPipewire *pipewire, const char *target, int width, int height, int fps, GError **error)
{
  g_autoptr (ConfabCameraSource) self = NULL;
  guint8 buffer[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (buffer, sizeof buffer);
  const struct spa_pod *params[1];
  struct pw_properties *props;
  int res;

  g_return_val_if_fail (CONFAB_IS_PIPEWIRE (pipewire), NULL);

  self = g_object_new (CONFAB_TYPE_CAMERA_SOURCE, NULL);
  self->pipewire = g_object_ref (pipewire);
  self->context = g_main_context_ref_thread_default ();
  self->target = g_strdup (target);
  self->slot = confab_frame_slot_new ();
  self->wakeup = confab_wakeup_source_new (self->context, on_wakeup, self);
  self->start_timeout = g_timeout_source_new_seconds (START_TIMEOUT_S);
  g_source_set_callback (self->start_timeout, on_start_timeout, self, NULL);
  g_source_attach (self->start_timeout, self->context);

  props = pw_properties_new (PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture",
                             PW_KEY_MEDIA_ROLE, "Communication", PW_KEY_APP_NAME, "Confab",
                             PW_KEY_NODE_NAME, "confab-camera", PW_KEY_NODE_DESCRIPTION,
                             "Confab camera", NULL);
  /* A vanished camera is an error the user sees, not a silent switch. */
  pw_properties_set (props, PW_KEY_NODE_DONT_RECONNECT, "true");
  if (target != NULL)
    pw_properties_set (props, PW_KEY_TARGET_OBJECT, target);

  width = CLAMP (width, 16, 4096);
  height = CLAMP (height, 16, 4096);
  fps = CLAMP (fps, 1, 120);
  /* I420 first: what the encoders take as is. */
  params[0] = spa_pod_builder_add_object (
      &b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat, SPA_FORMAT_mediaType,
      SPA_POD_Id (SPA_MEDIA_TYPE_video), SPA_FORMAT_mediaSubtype,
      SPA_POD_Id (SPA_MEDIA_SUBTYPE_raw), SPA_FORMAT_VIDEO_format,
      SPA_POD_CHOICE_ENUM_Id (4, SPA_VIDEO_FORMAT_I420, SPA_VIDEO_FORMAT_I420,
                              SPA_VIDEO_FORMAT_NV12, SPA_VIDEO_FORMAT_YUY2),
      SPA_FORMAT_VIDEO_size,
      SPA_POD_CHOICE_RANGE_Rectangle (&SPA_RECTANGLE (width, height), &SPA_RECTANGLE (2, 2),
                                      &SPA_RECTANGLE (8192, 8192)),
      SPA_FORMAT_VIDEO_framerate,
      SPA_POD_CHOICE_RANGE_Fraction (&SPA_FRACTION (fps, 1), &SPA_FRACTION (0, 1),
                                     &SPA_FRACTION (240, 1)));

  confab_pipewire_lock (pipewire);
  self->stream = pw_stream_new (confab_pipewire_get_core (pipewire), "Confab camera", props);
  if (self->stream == NULL)
    {
      confab_pipewire_unlock (pipewire);
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM,
                   "Cannot create a camera stream");
      return NULL;
    }
  pw_stream_add_listener (self->stream, &self->stream_listener, &stream_events, self);
  res = pw_stream_connect (self->stream, PW_DIRECTION_INPUT, PW_ID_ANY,
                           PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
  confab_pipewire_unlock (pipewire);
  if (res < 0)
    {
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM,
                   "Cannot connect the camera stream: %s", g_strerror (-res));
      return NULL;
    }
  return g_steal_pointer (&self);
}

gboolean
confab_camera_source_get_format (
    ConfabCameraSource *self, int *width, int *height, double *fps, const char **format_name)
{
  struct spa_video_info_raw info;
  gboolean negotiated;

  g_return_val_if_fail (CONFAB_IS_CAMERA_SOURCE (self), FALSE);
  g_mutex_lock (&self->lock);
  info = self->format;
  negotiated = self->negotiated;
  g_mutex_unlock (&self->lock);
  if (!negotiated)
    return FALSE;
  if (width != NULL)
    *width = info.size.width;
  if (height != NULL)
    *height = info.size.height;
  if (fps != NULL)
    *fps = info.framerate.denom > 0 ? (double) info.framerate.num / info.framerate.denom
           : info.max_framerate.denom > 0
               ? (double) info.max_framerate.num / info.max_framerate.denom
               : 0;
  if (format_name != NULL)
    *format_name = info.format == SPA_VIDEO_FORMAT_I420   ? "I420"
                   : info.format == SPA_VIDEO_FORMAT_NV12 ? "NV12"
                                                          : "YUY2";
  return TRUE;
}

guint64
confab_camera_source_get_frames_captured (ConfabCameraSource *self)
{
  guint64 n;

  g_mutex_lock (&self->lock);
  n = self->captured;
  g_mutex_unlock (&self->lock);
  return n;
}

guint64
confab_camera_source_get_frames_dropped (ConfabCameraSource *self)
{
  return confab_frame_slot_get_dropped (self->slot);
}

void
confab_camera_source_get_handover_us (ConfabCameraSource *self, double *mean, gint64 *max)
{
  if (mean != NULL)
    *mean = self->handovers > 0 ? (double) self->handover_sum_us / self->handovers : 0;
  if (max != NULL)
    *max = self->handover_max_us;
}
