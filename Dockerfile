FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
RUN useradd --create-home subsync && mkdir -p /app/var && chown -R subsync /app/var
USER subsync
EXPOSE 8000
CMD ["gunicorn", "subsync.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
