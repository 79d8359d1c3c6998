"""Reports: published dashboard figures and live operational KPIs."""
