"""The HTML pages, one router per area (each area keeps its templates under
``web/templates/<area>/`` and its Chinese texts in ``web/i18n/zh_CN/<area>.po``)."""
