"""The pages: one router per subject, thin (read the form, call a service, render or
redirect). The staff desk is under /ansatt/; the citizens' pages will be under /."""
