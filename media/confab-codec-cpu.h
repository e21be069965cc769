/* confab-codec-cpu.h: the CPU time this process has spent inside codec calls
 * (video and audio encode and decode), counted by the codecs themselves, so a
 * client can say how much of its CPU is codec work and how much is everything
 * else (issue 4's target: the rest adds under 30 %). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  CONFAB_CODEC_CPU_VIDEO_ENCODE,
  CONFAB_CODEC_CPU_VIDEO_DECODE,
  CONFAB_CODEC_CPU_AUDIO_ENCODE,
  CONFAB_CODEC_CPU_AUDIO_DECODE,
  CONFAB_CODEC_CPU_N_KINDS,
} ConfabCodecCpuKind;

/* Nanoseconds of CPU spent so far in this process by every codec object of
 * @kind, freed ones included: the calling thread's time inside each encode or
 * decode call plus all the time of the codec library's own worker threads
 * (libvpx row-mt, x264 sliced threads), which only run inside those calls.
 * Any thread may ask. */
guint64 confab_codec_cpu_get_process_ns (ConfabCodecCpuKind kind);
/* "video_encode", "video_decode", "audio_encode", "audio_decode" (JSON keys). */
const char *confab_codec_cpu_kind_to_string (ConfabCodecCpuKind kind);
/* The sum over all kinds. */
guint64 confab_codec_cpu_get_process_total_ns (void);

G_END_DECLS
