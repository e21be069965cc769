/* confab-pipewire-camera.h: a camera (any PipeWire Video/Source) as a stream
 * of I420 ConfabVideoFrames on the GLib main context, latest frame wins. */
#pragma once

#include "confab-pipewire.h"
#include "confab-video-frame.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_CAMERA_SOURCE (confab_camera_source_get_type ())
G_DECLARE_FINAL_TYPE (ConfabCameraSource, confab_camera_source, CONFAB, CAMERA_SOURCE, GObject)

/* Starts capturing from the Video/Source whose node.name (or object.serial)
 * is @target, or the session manager's choice when @target is NULL. @width,
 * @height and @fps are preferences: the camera's own offer wins (I420, NV12
 * or YUY2; NV12 and YUY2 are converted to I420 once, I420 is copied once).
 *
 * Signals, on the thread-default main context of the caller:
 * - "frame" (ConfabVideoFrame *frame): the newest picture (pts_us = monotonic
 *   time PipeWire handed it over). Pictures that arrive while the main
 *   context is busy replace each other; they never queue.
 * - "error" (GError *error): the camera disappeared (DEVICE_GONE), refused
 *   every format (FORMAT), none started within 5 s (STREAM) or PipeWire went
 *   away (DISCONNECTED). Emitted once; no frames follow. */
ConfabCameraSource *confab_camera_source_new (
    ConfabPipewire *pipewire, const char *target, int width, int height, int fps, GError **error);

/* The negotiated format; FALSE before negotiation. @format_name: "I420", "NV12" or "YUY2". */
gboolean confab_camera_source_get_format (
    ConfabCameraSource *self, int *width, int *height, double *fps, const char **format_name);
/* Buffers PipeWire delivered, and those replaced before the main context took them. */
guint64 confab_camera_source_get_frames_captured (ConfabCameraSource *self);
guint64 confab_camera_source_get_frames_dropped (ConfabCameraSource *self);
/* Mean and maximum time from PipeWire's callback to the "frame" signal, in µs. */
void confab_camera_source_get_handover_us (ConfabCameraSource *self, double *mean, gint64 *max);

G_END_DECLS
