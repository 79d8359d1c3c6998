"""Questionnaires (智能问卷): build, clone, archive; answers recorded on contacts; results."""
