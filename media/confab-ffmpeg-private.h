/* confab-ffmpeg-private.h: what every FFmpeg user in media/ shares. */
#pragma once

/* Sends FFmpeg's log (process-wide) to g_debug() instead of stderr, once per
 * process: demuxers and decoders complain about every damaged packet, and what
 * matters already reaches the caller as a GError. */
void confab_ffmpeg_route_logs (void);
