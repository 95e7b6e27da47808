"""The system of record: the event-sourced application and its infrastructure."""
