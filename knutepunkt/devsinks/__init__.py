"""Local stand-ins for the outside world notify talks to: a mail catcher and an SMS sink."""

from knutepunkt.devsinks.mail import MailCatcher
from knutepunkt.devsinks.mail_message import Attachment, ReceivedMail
from knutepunkt.devsinks.mail_modes import MailMode
from knutepunkt.devsinks.sms import SmsSink
from knutepunkt.devsinks.sms_providers import PROVIDERS, Provider, SinkAuth
from knutepunkt.devsinks.sms_records import Fault, ReceivedSms

__all__ = [
    "PROVIDERS",
    "Attachment",
    "Fault",
    "MailCatcher",
    "MailMode",
    "Provider",
    "ReceivedMail",
    "ReceivedSms",
    "SinkAuth",
    "SmsSink",
]
