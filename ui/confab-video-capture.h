/* confab-video-capture.h: one camera stream shared by whoever shows or sends
 * it (the pre-join preview, then the call), so joining hands the running
 * camera over instead of closing and reopening it: no black gap, no second
 * reader (some cameras serve one at a time). */
#pragma once

#include "confab-pipewire-camera.h"

G_BEGIN_DECLS

/* The camera @target (NULL: the default), already running when someone
 * holds it or let go of it less than a second ago, else started. Connect to
 * its "frame" and "error" signals; give it back with
 * confab_video_capture_release_camera(). (transfer full) */
ConfabCameraSource *confab_video_capture_acquire_camera (const char *target, GError **error);
/* Stops it a second after the last holder lets go (unless acquired again).
 * Disconnect your handlers first. */
void confab_video_capture_release_camera (ConfabCameraSource *camera);

/* Never hand @camera out again (it stopped delivering): the next acquire
 * opens the device afresh. Holders keep theirs until they release it. */
void confab_video_capture_forget (ConfabCameraSource *camera);

G_END_DECLS
