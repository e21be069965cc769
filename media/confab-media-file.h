/* confab-media-file.h: a media file (any container and codec FFmpeg reads) as
 * a live source: its first video stream as I420 pictures of a chosen size,
 * or its first audio stream as 20 ms chunks of 48 kHz mono S16, in real
 * time as the caller asks, looping at the end of the file. */
#pragma once

#include "confab-video-frame.h"

G_BEGIN_DECLS

#define CONFAB_MEDIA_FILE_ERROR (confab_media_file_error_quark ())

typedef enum
{
  CONFAB_MEDIA_FILE_ERROR_OPEN,      /* missing, unreadable, or not a media file */
  CONFAB_MEDIA_FILE_ERROR_NO_STREAM, /* no video (or audio) stream, or no decoder for it */
  CONFAB_MEDIA_FILE_ERROR_DECODE,    /* nothing in the stream decodes */
} ConfabMediaFileError;

GQuark confab_media_file_error_quark (void);

typedef struct _ConfabMediaFile ConfabMediaFile;

/* Opens @path's first video stream; pictures come out at @width x @height
 * (scaled only when the file's size or format differs). The first picture is
 * decoded here, so a file that cannot play fails now. */
ConfabMediaFile *
confab_media_file_open_video (const char *path, int width, int height, GError **error);
/* Opens @path's first audio stream (any rate, layout and sample format). */
ConfabMediaFile *confab_media_file_open_audio (const char *path, GError **error);

/* The picture showing at @media_time_us into the file (time since the caller
 * started; past the end the file starts again), stamped @pts_us. Pictures
 * are repeated or skipped to follow the file's own timing, so any caller
 * rate works. NULL with an error only when the file stopped decoding
 * altogether. (transfer full) */
ConfabVideoFrame *confab_media_file_next_video (ConfabMediaFile *self,
                                                gint64 media_time_us,
                                                gint64 pts_us,
                                                GError **error);

/* The next 20 ms (CONFAB_MEDIA_FILE_CHUNK_SAMPLES) of audio; FALSE with an
 * error only when the file stopped decoding altogether. */
#define CONFAB_MEDIA_FILE_CHUNK_SAMPLES 960
gboolean confab_media_file_read_audio (ConfabMediaFile *self, gint16 *samples, GError **error);

/* Pictures from now on at @width x @height (even, > 0): a sender's quality
 * tier changed. */
void confab_media_file_set_video_size (ConfabMediaFile *self, int width, int height);

/* The file's size and frame rate as it reports them (0 when unknown). */
void confab_media_file_get_video_info (ConfabMediaFile *self, int *width, int *height, double *fps);
/* How often the file started again from its beginning. */
guint confab_media_file_get_loops (ConfabMediaFile *self);

void confab_media_file_free (ConfabMediaFile *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabMediaFile, confab_media_file_free)

G_END_DECLS
