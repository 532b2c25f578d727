"""ledgerline-upload: a label's catalog sent to a dataset through Ledgerline's resumable (tus 1.0) endpoint.

Standard library only, and nothing of the platform: a label installs it alone and scripts it.
"""
