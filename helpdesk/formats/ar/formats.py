"""Arabic date and time formats that Django's own Arabic locale leaves out.

Without them a date with its time falls back to the English pattern and reads "نوفمبر 30,
2026, 4:23 ص": Arabic words in an American order. Day, month, year as Django's Arabic
DATE_FORMAT has them, then the time as its TIME_FORMAT; Django's module still gives every
other format (FORMAT_MODULE_PATH in helpdesk/settings.py is looked up first)."""

DATETIME_FORMAT = "j F، Y، g:i A"
# The right-to-left marks keep the slashes' order in a right-to-left line, as Django's own
# SHORT_DATE_FORMAT for Arabic does.
SHORT_DATETIME_FORMAT = "d\u200f/m\u200f/Y، g:i A"

# Numbers: Django's Arabic locale groups no digits and would separate thousands with a full
# stop. With Latin digits, as these pages write them, CLDR's Arabic uses the comma for
# thousands and the full stop for decimals ("2,352,683 مشاهدة"), as most Arabic sites do.
NUMBER_GROUPING = 3
THOUSAND_SEPARATOR = ","
DECIMAL_SEPARATOR = "."
