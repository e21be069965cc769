/* confab-chat.c: bounds and validation of the [confab] chat message. A
 * receiver checks every field itself: the relay forwards whatever it gets. */
#define G_LOG_DOMAIN "confab-proto"

#include "confab-chat.h"

#include <string.h>

G_DEFINE_QUARK (confab - chat - error - quark, confab_chat_error)

/* Control characters would let a sender redraw or hide text in a reader's
 * chat; tab and newline are ordinary in a pasted message. */
static gboolean
has_control_characters (const char *text, gsize len, gboolean allow_newlines)
{
  for (const char *p = text; p < text + len; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if ((c == '\n' || c == '\t') && allow_newlines)
        continue;
      if (g_unichar_type (c) == G_UNICODE_CONTROL)
        return TRUE;
    }
  return FALSE;
}

gboolean
confab_chat_text_check (const char *text, gssize len, GError **error)
{
  gsize n;
  gboolean blank = TRUE;

  g_return_val_if_fail (text != NULL, FALSE);

  n = len < 0 ? strlen (text) : (gsize) len;
  if (n > CONFAB_CHAT_MAX_TEXT)
    {
      g_set_error (error, CONFAB_CHAT_ERROR, CONFAB_CHAT_ERROR_TOO_LONG,
                   "A chat message holds at most %d bytes", CONFAB_CHAT_MAX_TEXT);
      return FALSE;
    }
  /* With an explicit length g_utf8_validate() also refuses embedded NULs. */
  if (!g_utf8_validate (text, n, NULL) || has_control_characters (text, n, TRUE))
    {
      g_set_error_literal (error, CONFAB_CHAT_ERROR, CONFAB_CHAT_ERROR_INVALID,
                           "A chat message must be UTF-8 text without control characters");
      return FALSE;
    }
  for (const char *p = text; p < text + n && blank; p = g_utf8_next_char (p))
    blank = g_unichar_isspace (g_utf8_get_char (p));
  if (blank)
    {
      g_set_error_literal (error, CONFAB_CHAT_ERROR, CONFAB_CHAT_ERROR_EMPTY,
                           "A chat message needs some text");
      return FALSE;
    }
  return TRUE;
}

gboolean
confab_chat_message_is_valid (const ConfabChatMessage *message)
{
  gsize name_len, id_len;

  if (message == NULL || message->text == NULL || message->display_name == NULL ||
      message->id == NULL)
    return FALSE;
  if (!confab_chat_text_check (message->text, -1, NULL))
    return FALSE;
  name_len = strlen (message->display_name);
  if (name_len > CONFAB_CHAT_MAX_DISPLAY_NAME ||
      !g_utf8_validate (message->display_name, -1, NULL) ||
      has_control_characters (message->display_name, name_len, FALSE))
    return FALSE;
  id_len = strlen (message->id);
  if (id_len == 0 || id_len > CONFAB_CHAT_MAX_ID)
    return FALSE;
  for (const char *p = message->id; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p))
      return FALSE;
  return TRUE;
}

GBytes *
confab_chat_message_pack (const char *id,
                          const char *text,
                          const char *display_name,
                          guint64 timestamp_ms)
{
  ConfabChatMessage message = CONFAB__CHAT_MESSAGE__INIT;

  message.id = (char *) id;
  message.text = (char *) text;
  message.display_name = (char *) (display_name != NULL ? display_name : "");
  message.timestamp_ms = timestamp_ms;
  return confab_message_pack (&message.base);
}
