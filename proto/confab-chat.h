/* confab-chat.h: the [confab] chat message (PacketType CHAT, 100): what a
 * sender may put in one and what a receiver accepts (docs/protocol-extensions.md).
 * Pure functions over the generated Confab__ChatMessage; GTK-free. */
#pragma once

#include "confab-packet.h"

G_BEGIN_DECLS

#define CONFAB_PACKET_CHAT CONFAB__PACKET_WRAPPER__PACKET_TYPE__CHAT

typedef Confab__ChatMessage ConfabChatMessage;

/* Bounds in bytes of UTF-8. A chat message stays far below a WebTransport
 * datagram's worth of packets and never near CONFAB_MAX_PACKET_SIZE. */
#define CONFAB_CHAT_MAX_TEXT         4096
#define CONFAB_CHAT_MAX_DISPLAY_NAME 256
#define CONFAB_CHAT_MAX_ID           64

#define CONFAB_CHAT_ERROR (confab_chat_error_quark ())
typedef enum
{
  CONFAB_CHAT_ERROR_EMPTY,    /* nothing but white space */
  CONFAB_CHAT_ERROR_TOO_LONG, /* over CONFAB_CHAT_MAX_TEXT bytes */
  CONFAB_CHAT_ERROR_INVALID,  /* not UTF-8, or control characters */
} ConfabChatError;

GQuark confab_chat_error_quark (void);

/* Whether @text (@len bytes, or NUL-terminated when -1) may be sent: valid
 * UTF-8 without NULs or control characters other than tab and newline, not
 * only white space, at most CONFAB_CHAT_MAX_TEXT bytes. */
gboolean confab_chat_text_check (const char *text, gssize len, GError **error);

/* Whether a received message is one to show: text as above, display name at
 * most CONFAB_CHAT_MAX_DISPLAY_NAME bytes of UTF-8 without control
 * characters, id 1 to CONFAB_CHAT_MAX_ID printable ASCII characters. */
gboolean confab_chat_message_is_valid (const ConfabChatMessage *message);

/* The packed ChatMessage, to be wrapped as CONFAB_PACKET_CHAT. Does not
 * validate: callers check the text first. */
GBytes *confab_chat_message_pack (const char *id,
                                  const char *text,
                                  const char *display_name,
                                  guint64 timestamp_ms);

G_END_DECLS
