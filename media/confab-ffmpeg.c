/* confab-ffmpeg.c: FFmpeg's process-wide log routed to GLib (see the header). */
#define G_LOG_DOMAIN "confab-ffmpeg"

#include "confab-ffmpeg-private.h"

#include <glib.h>
#include <libavutil/log.h>

static void
av_log_to_glib (void *avcl, int level, const char *format, va_list args)
{
  char line[1024];
  int print_prefix = 1;

  if (level > AV_LOG_WARNING)
    return;
  av_log_format_line (avcl, level, format, args, line, sizeof line, &print_prefix);
  g_debug ("ffmpeg: %s", g_strchomp (line));
}

void
confab_ffmpeg_route_logs (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      av_log_set_callback (av_log_to_glib);
      g_once_init_leave (&once, 1);
    }
}
